/**
 * The LSTM_FWD item of the CPU module: one direction of the forward recurrence over all
 * steps for one group of batch rows (gather, recurrent GEMM, `gatesFwd`, write the output).
 *
 * @module
 */
import {
  call,
  type Code,
  F,
  f32,
  forRange,
  get,
  I,
  i32,
  i32t,
  if_,
  inc,
  Locals,
  set,
  V,
  v128t,
  type WasmFunction,
} from "./_wasm_asm.ts";
import { LSTM_ARGS } from "./_cpu_layout.ts";
import { FN } from "./_cpu_functions.ts";
import { alignCode, lstmItemHeader } from "./_cpu_lstm_item.ts";

/** One direction of the forward recurrence for one group of batch rows. */
export function lstmFwdItemFn(): WasmFunction {
  const L = new Locals();
  const job = L.param(i32t), item = L.param(i32t);
  const h = lstmItemHeader(L, job, item);
  const { dir, first, end, B, T, hp, D, G, hpB, gB, activeP, maskP, rowOfP, rowsP } = h;
  const { q, b, k, arg, perDir } = h;
  const s = L.local(i32t), time = L.local(i32t), n = L.local(i32t), row = L.local(i32t);
  const hcP = L.local(i32t), zP = L.local(i32t);
  const hP = L.local(i32t), cP = L.local(i32t), wP = L.local(i32t), gP = L.local(i32t);
  const tcP = L.local(i32t), cpP = L.local(i32t), hpP = L.local(i32t), outP = L.local(i32t);
  const projP = L.local(i32t), src = L.local(i32t);
  const dst = L.local(i32t), stepOff = L.local(i32t), apackP = L.local(i32t);
  const v = L.local(v128t);
  const A = LSTM_ARGS;
  const copyV = (to: Code, from: Code, bytes: Code): Code =>
    forRange(k, i32(0), bytes, V.store(I.add(to, get(k)), V.load(I.add(from, get(k)))), i32(16));
  return {
    name: "lstmFwdItem",
    params: L.params,
    locals: L.locals,
    body: [
      h.code,
      set(
        hcP,
        I.add(get(activeP), alignCode(I.mul(I.sub(get(end), get(first)), i32(4)))),
      ),
      set(
        zP,
        I.add(get(hcP), alignCode(I.mul(I.mul(I.sub(get(end), get(first)), get(hp)), i32(4)))),
      ),
      set(apackP, I.add(get(zP), alignCode(I.mul(I.sub(get(end), get(first)), get(gB))))),
      set(hP, perDir(A.state)),
      set(cP, perDir(A.cell)),
      set(wP, perDir(A.weights)),
      set(gP, perDir(A.gates)),
      set(tcP, perDir(A.tanhC)),
      set(cpP, perDir(A.cPrev)),
      set(hpP, perDir(A.hPrev)),
      set(outP, arg(A.output)),
      set(projP, arg(A.input)),
      h.zeroRows(hP, cP),
      forRange(s, i32(0), get(T), [
        set(time, get(s)),
        if_(get(dir), set(time, I.sub(I.sub(get(T), i32(1)), get(s)))),
        // Gather the rows the mask keeps: h into hc, the projection into z.
        set(n, i32(0)),
        forRange(q, get(first), get(end), [
          set(b, I.load(I.add(get(rowsP), I.mul(get(q), i32(4))))),
          if_(
            F.ne(
              F.load(I.add(get(maskP), I.mul(I.add(I.mul(get(b), get(T)), get(time)), i32(4)))),
              f32(0),
            ),
            [
              I.store(I.add(get(activeP), I.mul(get(n), i32(4))), get(b)),
              copyV(
                I.add(get(hcP), I.mul(get(n), get(hpB))),
                I.add(get(hP), I.mul(get(b), get(hpB))),
                get(hpB),
              ),
              set(
                row,
                I.load(I.add(get(rowOfP), I.mul(I.add(I.mul(get(b), get(T)), get(time)), i32(4)))),
              ),
              set(
                src,
                I.add(
                  get(projP),
                  I.add(I.mul(get(row), I.mul(get(gB), get(D))), I.mul(get(dir), get(gB))),
                ),
              ),
              set(dst, I.add(get(zP), I.mul(get(n), get(gB)))),
              copyV(get(dst), get(src), get(gB)),
              inc(n),
            ],
          ),
        ]),
        if_(I.gtS(get(n), i32(0)), [
          // z[n, G] += hc[n, Hp] . R[Hp, G]
          call(
            FN.gemmRows,
            get(hcP),
            get(hpB),
            i32(4),
            get(wP),
            get(hp),
            get(zP),
            get(gB),
            get(n),
            i32(0),
            I.shrS(get(G), i32(3)),
            i32(1),
            i32(0),
            get(apackP),
          ),
          set(stepOff, I.mul(get(s), get(B))),
          call(
            FN.gatesFwd,
            get(zP),
            get(n),
            get(hp),
            get(activeP),
            I.add(get(maskP), I.mul(get(time), i32(4))),
            I.mul(get(T), i32(4)),
            get(hP),
            get(cP),
            I.add(get(gP), I.mul(get(stepOff), get(gB))),
            I.add(get(tcP), I.mul(get(stepOff), get(hpB))),
            I.add(get(cpP), I.mul(get(stepOff), get(hpB))),
            get(hpP),
            I.add(get(rowOfP), I.mul(get(time), i32(4))),
            arg(A.save),
          ),
        ]),
        // Every row of the group writes its (held) state to the output. A NaN is written
        // as the positive quiet NaN: tfjs-wasm's relu turns a negative one (x86's default
        // NaN) into 0, which would hide bad input from the loss.
        forRange(q, get(first), get(end), [
          set(b, I.load(I.add(get(rowsP), I.mul(get(q), i32(4))))),
          set(
            dst,
            I.add(
              get(outP),
              I.add(
                I.mul(I.add(I.mul(get(b), get(T)), get(time)), I.mul(get(D), get(hpB))),
                I.mul(get(dir), get(hpB)),
              ),
            ),
          ),
          set(src, I.add(get(hP), I.mul(get(b), get(hpB)))),
          forRange(k, i32(0), get(hpB), [
            set(v, V.load(I.add(get(src), get(k)))),
            V.store(
              I.add(get(dst), get(k)),
              V.bitselect(V.i32Splat(i32(0x7fc00000)), get(v), V.ne(get(v), get(v))),
            ),
          ], i32(16)),
        ]),
      ]),
    ],
  };
}
