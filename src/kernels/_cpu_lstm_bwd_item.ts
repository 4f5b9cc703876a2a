/**
 * The LSTM_BWD item of the CPU module: one direction of BPTT over all steps, in reverse, for
 * one group of batch rows (`gatesBwd`, then the recurrent GEMM `dz . R^T` into dh).
 *
 * @module
 */
import {
  block,
  brIf,
  call,
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
  loop,
  set,
  V,
  type WasmFunction,
} from "./_wasm_asm.ts";
import { LSTM_ARGS } from "./_cpu_layout.ts";
import { FN } from "./_cpu_functions.ts";
import { alignCode, lstmItemHeader } from "./_cpu_lstm_item.ts";

/** One direction of the backward recurrence (BPTT) for one group of batch rows. */
export function lstmBwdItemFn(): WasmFunction {
  const L = new Locals();
  const job = L.param(i32t), item = L.param(i32t);
  const h = lstmItemHeader(L, job, item);
  const { dir, first, end, B, T, hp, D, G, hpB, gB, activeP, maskP, rowOfP, rowsP } = h;
  const { q, b, k, arg, perDir } = h;
  const s = L.local(i32t), time = L.local(i32t), n = L.local(i32t), j = L.local(i32t);
  const backP = L.local(i32t), dzP = L.local(i32t);
  const dhP = L.local(i32t), dcP = L.local(i32t), wP = L.local(i32t), gP = L.local(i32t);
  const tcP = L.local(i32t), cpP = L.local(i32t), dyP = L.local(i32t), dzAllP = L.local(i32t);
  const stepOff = L.local(i32t), hp8 = L.local(i32t);
  const at = L.local(i32t), apackP = L.local(i32t);
  const A = LSTM_ARGS;
  return {
    name: "lstmBwdItem",
    params: L.params,
    locals: L.locals,
    body: [
      h.code,
      // The recurrent product's output has whole panels: Hp rounded up to 8.
      set(hp8, I.and(I.add(get(hp), i32(7)), i32(~7))),
      set(backP, I.add(get(activeP), alignCode(I.mul(I.sub(get(end), get(first)), i32(4))))),
      set(
        dzP,
        I.add(get(backP), alignCode(I.mul(I.mul(I.sub(get(end), get(first)), get(hp8)), i32(4)))),
      ),
      set(apackP, I.add(get(dzP), alignCode(I.mul(I.sub(get(end), get(first)), get(gB))))),
      set(dhP, perDir(A.state)),
      set(dcP, perDir(A.cell)),
      set(wP, perDir(A.weights)),
      set(gP, perDir(A.gates)),
      set(tcP, perDir(A.tanhC)),
      set(cpP, perDir(A.cPrev)),
      set(dyP, arg(A.input)),
      set(dzAllP, arg(A.output)),
      h.zeroRows(dhP, dcP),
      set(s, I.sub(get(T), i32(1))),
      block(loop([
        brIf(1, I.ltS(get(s), i32(0))),
        set(time, get(s)),
        if_(get(dir), set(time, I.sub(I.sub(get(T), i32(1)), get(s)))),
        set(n, i32(0)),
        forRange(q, get(first), get(end), [
          set(b, I.load(I.add(get(rowsP), I.mul(get(q), i32(4))))),
          // dh += dy of this step (every row: padded steps carry dh through).
          set(
            at,
            I.add(
              get(dyP),
              I.add(
                I.mul(I.add(I.mul(get(b), get(T)), get(time)), I.mul(get(D), get(hpB))),
                I.mul(get(dir), get(hpB)),
              ),
            ),
          ),
          forRange(k, i32(0), get(hpB), [
            V.store(
              I.add(get(dhP), I.add(I.mul(get(b), get(hpB)), get(k))),
              V.add(
                V.load(I.add(get(dhP), I.add(I.mul(get(b), get(hpB)), get(k)))),
                V.load(I.add(get(at), get(k))),
              ),
            ),
          ], i32(16)),
          if_(
            F.ne(
              F.load(I.add(get(maskP), I.mul(I.add(I.mul(get(b), get(T)), get(time)), i32(4)))),
              f32(0),
            ),
            [I.store(I.add(get(activeP), I.mul(get(n), i32(4))), get(b)), inc(n)],
          ),
        ]),
        if_(I.gtS(get(n), i32(0)), [
          set(stepOff, I.mul(get(s), get(B))),
          call(
            FN.gatesBwd,
            get(dzP),
            get(n),
            get(hp),
            get(activeP),
            I.add(get(maskP), I.mul(get(time), i32(4))),
            I.mul(get(T), i32(4)),
            get(dhP),
            get(dcP),
            I.add(get(gP), I.mul(get(stepOff), get(gB))),
            I.add(get(tcP), I.mul(get(stepOff), get(hpB))),
            I.add(get(cpP), I.mul(get(stepOff), get(hpB))),
            get(dzAllP),
            I.mul(get(D), get(gB)),
            I.add(get(rowOfP), I.mul(get(time), i32(4))),
            I.mul(get(dir), get(gB)),
            perDir(A.packed),
            I.mul(arg(A.matmulRows), i32(32)),
          ),
          // back[n, Hp8] = dz[n, G] . R^T[G, Hp8]; then dh[b] += back[j].
          call(
            FN.gemmRows,
            get(dzP),
            get(gB),
            i32(4),
            get(wP),
            get(G),
            get(backP),
            I.mul(get(hp8), i32(4)),
            get(n),
            i32(0),
            I.shrS(get(hp8), i32(3)),
            i32(0),
            i32(0),
            get(apackP),
          ),
          forRange(j, i32(0), get(n), [
            set(b, I.load(I.add(get(activeP), I.mul(get(j), i32(4))))),
            forRange(k, i32(0), get(hpB), [
              V.store(
                I.add(get(dhP), I.add(I.mul(get(b), get(hpB)), get(k))),
                V.add(
                  V.load(I.add(get(dhP), I.add(I.mul(get(b), get(hpB)), get(k)))),
                  V.load(I.add(get(backP), I.add(I.mul(get(j), I.mul(get(hp8), i32(4))), get(k)))),
                ),
              ),
            ], i32(16)),
          ]),
        ]),
        set(s, I.sub(get(s), i32(1))),
        brIf(0, i32(1)),
      ])),
    ],
  };
}
