/**
 * The CPU kernels of the LSTM layer as one WebAssembly module (128-bit SIMD), built at run
 * time by `_wasm_asm.ts`. Every kernel is a "job" of independent items: each thread (the
 * main one and the pool's workers, all instances of this module over one shared memory)
 * calls `run(job, item)` for the items it claims. An item's result never depends on which
 * thread runs it or on how many threads there are, so one thread and many give the same
 * bits.
 *
 * Jobs (the descriptor is i32 words at `job`, word 0 the kind; MULTI runs several
 * independent jobs behind one barrier, item k of it being item k - offset of the sub-job
 * whose range holds k):
 * - GEMM: `C[M, N] (=|+=) A[M, K] · B[K, N]` with B packed in panels of 8 columns
 *   (`[N/8][K][8]`), A read through byte strides (row `sa`, inner `sk`: a transposed A is just
 *   other strides), C row-major with `ldc` bytes per row, optionally started from a bias row.
 *   The micro-kernel keeps a 6 x 8 tile in 12 registers and multiply-adds with relaxed SIMD's
 *   fused `f32x4.relaxed_madd` where the engine has it (one rounding; mul + add otherwise).
 *   An item is a block of rows by a block of panels; K runs in chunks of 256 so a panel
 *   block's slice of B stays in cache.
 * - TRANSPOSE: `dst[c][r] = src[r][c]`, by blocks of source rows.
 * - LSTM_FWD / LSTM_BWD: one direction of one layer over all time steps, for one group of
 *   batch rows (rows are independent in an LSTM): per step, the group's rows that the mask
 *   keeps are gathered, one GEMM with the packed recurrent weights, then the gate math (a
 *   polynomial exp: sigmoid(x) = 1 / (1 + exp(-x)), tanh(x) = 2 sigmoid(2x) - 1). The
 *   backward item also writes dz packed in panels, ready to be the B of the weight
 *   gradients (the bias gradient is `ones · dz`, a GEMM too).
 *
 * Layouts use a padded hidden size `Hp` (a multiple of 4) and gate width `G = 4 Hp`; gate q
 * of unit k is column `q Hp + k`. Padded units have zero weights and stay exactly zero.
 *
 * This file assembles the module and holds `run`; the descriptors' layouts are in
 * `_cpu_layout.ts`, the function indices in `_cpu_functions.ts`, the functions in
 * `_cpu_gemm.ts`, `_cpu_transpose.ts`, `_cpu_gates.ts` and `_cpu_lstm_*_item.ts`.
 *
 * @module
 */
import {
  assemble,
  block,
  brIf,
  call,
  type Code,
  get,
  I,
  i32,
  i32t,
  if_,
  inc,
  Locals,
  loop,
  set,
  V,
  type WasmFunction,
} from "./_wasm_asm.ts";
import { JOB } from "./_cpu_layout.ts";
import { FN, TILE_SOURCES } from "./_cpu_functions.ts";
import { gemmItemFn, gemmRowsFn, tileFn } from "./_cpu_gemm.ts";
import { transposeItemFn } from "./_cpu_transpose.ts";
import { gatesBwdFn, gatesFwdFn } from "./_cpu_gates.ts";
import { lstmFwdItemFn } from "./_cpu_lstm_fwd_item.ts";
import { lstmBwdItemFn } from "./_cpu_lstm_bwd_item.ts";

interface Options {
  /** Use relaxed SIMD's fused multiply-add. */
  readonly fma: boolean;
  /** Import a shared memory (threads). */
  readonly shared: boolean;
  /** Memory limits in 64 KiB pages. */
  readonly pages: number;
  readonly maxPages: number;
}

/** Builds the module's bytes. */
export function buildCpuModule(options: Options): Uint8Array<ArrayBuffer> {
  const madd = (a: Code, b: Code, c: Code): Code =>
    options.fma ? V.madd(a, b, c) : V.add(V.mul(a, b), c);
  const functions: WasmFunction[] = [
    runFn(),
    gemmRowsFn(),
    ...TILE_SOURCES.flatMap((source) => [1, 2, 3, 4, 5, 6].map((m) => tileFn(m, source, madd))),
    gemmItemFn(),
    lstmFwdItemFn(),
    lstmBwdItemFn(),
    gatesFwdFn(),
    gatesBwdFn(),
    transposeItemFn(),
  ];
  return assemble(functions, {
    pages: options.pages,
    maxPages: options.maxPages,
    shared: options.shared,
  });
}

/** `run(job, item)`: dispatches on the job's kind (MULTI: to the sub-job holding the item). */
function runFn(): WasmFunction {
  const L = new Locals();
  const job = L.param(i32t), item = L.param(i32t);
  const kind = L.local(i32t), at = L.local(i32t), items = L.local(i32t);
  const branch = (k: number, fn: number): Code =>
    if_(I.eq(get(kind), i32(k)), call(fn, get(job), get(item)));
  return {
    name: "run",
    params: L.params,
    locals: L.locals,
    body: [
      set(kind, I.load(get(job))),
      if_(I.eq(get(kind), i32(JOB.MULTI)), [
        // Walk the (job, items) pairs until the item falls in one.
        set(at, I.add(get(job), i32(8))),
        block(loop([
          set(items, I.load(get(at), 4)),
          brIf(1, I.ltS(get(item), get(items))),
          set(item, I.sub(get(item), get(items))),
          inc(at, i32(8)),
          brIf(0, i32(1)),
        ])),
        set(job, I.load(get(at))),
        set(kind, I.load(get(job))),
      ]),
      branch(JOB.GEMM, FN.gemmItem),
      branch(JOB.LSTM_FWD, FN.lstmFwdItem),
      branch(JOB.LSTM_BWD, FN.lstmBwdItem),
      branch(JOB.TRANSPOSE, FN.transposeItem),
    ],
  };
}
