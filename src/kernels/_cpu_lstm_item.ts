/**
 * What the CPU module's LSTM_FWD and LSTM_BWD items share: the item's header (its rows,
 * sizes, scratch and pointers) and the 64-byte alignment of their scratch areas.
 *
 * @module
 */
import { type Code, forRange, get, I, i32, i32t, type Locals, set, V } from "./_wasm_asm.ts";
import { LSTM_ARGS } from "./_cpu_layout.ts";
import { jobArg, zeroV } from "./_cpu_functions.ts";

/**
 * What both LSTM items start with: the item's (direction, first, end) into the rows list,
 * the sizes, this item's scratch, and the pointers every item reads; plus `zeroRows`, which
 * zeroes two [B, Hp] state arrays for the group's rows.
 */
export function lstmItemHeader(L: Locals, job: number, item: number) {
  const A = LSTM_ARGS;
  const dir = L.local(i32t), first = L.local(i32t), end = L.local(i32t);
  const B = L.local(i32t), T = L.local(i32t), hp = L.local(i32t), D = L.local(i32t);
  const G = L.local(i32t), hpB = L.local(i32t), gB = L.local(i32t), activeP = L.local(i32t);
  const maskP = L.local(i32t), rowOfP = L.local(i32t), rowsP = L.local(i32t);
  const q = L.local(i32t), b = L.local(i32t), k = L.local(i32t);
  const arg = jobArg(job);
  const perDir = (w: number): Code => I.load(I.add(get(job), I.mul(get(dir), i32(4))), 4 * w);
  const at = (o: number): Code => I.load(I.add(arg(A.items), I.mul(get(item), i32(12))), o);
  const code: Code = [
    set(dir, at(0)),
    set(first, at(4)),
    set(end, at(8)),
    set(B, arg(A.batch)),
    set(T, arg(A.steps)),
    set(hp, arg(A.hp)),
    set(D, arg(A.dirs)),
    set(G, I.mul(get(hp), i32(4))),
    set(hpB, I.mul(get(hp), i32(4))),
    set(gB, I.mul(get(G), i32(4))),
    set(activeP, I.add(arg(A.scratch), I.mul(get(item), arg(A.scratchBytes)))),
    set(maskP, arg(A.mask)),
    set(rowOfP, arg(A.rowOf)),
    set(rowsP, arg(A.rows)),
  ];
  const zeroRows = (x: number, y: number): Code =>
    forRange(q, get(first), get(end), [
      set(b, I.load(I.add(get(rowsP), I.mul(get(q), i32(4))))),
      forRange(k, i32(0), get(hpB), [
        V.store(I.add(get(x), I.add(I.mul(get(b), get(hpB)), get(k))), zeroV()),
        V.store(I.add(get(y), I.add(I.mul(get(b), get(hpB)), get(k))), zeroV()),
      ], i32(16)),
    ]);
  return {
    dir,
    first,
    end,
    B,
    T,
    hp,
    D,
    G,
    hpB,
    gB,
    activeP,
    maskP,
    rowOfP,
    rowsP,
    q,
    b,
    k,
    arg,
    perDir,
    code,
    zeroRows,
  };
}

/** `bytes` rounded up to a multiple of 64. */
export const alignCode = (bytes: Code): Code => I.and(I.add(bytes, i32(63)), i32(~63));
