/**
 * The TRANSPOSE job of the CPU module (`dst[c][r] = src[r][c]`), by blocks of source rows.
 *
 * @module
 */
import {
  F,
  forRange,
  get,
  I,
  i32,
  i32t,
  if_,
  inc,
  Locals,
  set,
  type WasmFunction,
} from "./_wasm_asm.ts";
import { TRANSPOSE_ARGS } from "./_cpu_layout.ts";
import { jobArg } from "./_cpu_functions.ts";

/**
 * The TRANSPOSE job's item: a block of source rows. For each column the block's rows are
 * read down the column and written contiguously, so both sides stay in cache.
 */
export function transposeItemFn(): WasmFunction {
  const L = new Locals();
  const job = L.param(i32t), item = L.param(i32t);
  const r0 = L.local(i32t), r1 = L.local(i32t), r = L.local(i32t), col = L.local(i32t);
  const src = L.local(i32t), dst = L.local(i32t);
  const A = TRANSPOSE_ARGS;
  const arg = jobArg(job);
  return {
    name: "transposeItem",
    params: L.params,
    locals: L.locals,
    body: [
      set(r0, I.mul(get(item), arg(A.rowBlock))),
      set(r1, I.add(get(r0), arg(A.rowBlock))),
      if_(I.gtS(get(r1), arg(A.rows)), set(r1, arg(A.rows))),
      forRange(col, i32(0), arg(A.cols), [
        set(src, I.add(arg(A.src), I.add(I.mul(get(r0), arg(A.ld)), I.mul(get(col), i32(4))))),
        set(dst, I.add(arg(A.dst), I.add(I.mul(get(col), arg(A.ldDst)), I.mul(get(r0), i32(4))))),
        forRange(r, get(r0), get(r1), [
          F.store(get(dst), F.load(get(src))),
          inc(src, arg(A.ld)),
          inc(dst, i32(4)),
        ]),
      ]),
    ],
  };
}
