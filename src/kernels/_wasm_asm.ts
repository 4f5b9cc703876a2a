/**
 * A tiny WebAssembly assembler: enough of the binary format to build the CPU kernels of
 * `_cpu_programs.ts` at run time (i32/f32 scalars, 128-bit SIMD, relaxed fused multiply-add,
 * structured control flow, one imported shared memory). Code is written as nested arrays
 * of bytes that read like the stack machine's expressions, e.g.
 * `set(x, I.add(get(x), i32(4)))`.
 *
 * @module
 */

/** Bytes, possibly nested; flattened when the module is emitted. */
export type Code = number | readonly Code[];

/** Value types. */
export const i32t = 0x7f, f32t = 0x7d, v128t = 0x7b;
export type ValType = typeof i32t | typeof f32t | typeof v128t;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function flatten(code: Code, out: number[] = []): number[] {
  if (typeof code === "number") out.push(code);
  else for (const c of code) flatten(c, out);
  return out;
}

const simd = (op: number) => [0xfd, ...uleb(op)];
const memarg = (align: number, offset: number) => [...uleb(align), ...uleb(offset)];

/** Constants and locals. */
export const i32 = (n: number): Code => [0x41, ...sleb(n | 0)];
export const f32 = (x: number): Code => {
  const b = new Uint8Array(new Float32Array([x]).buffer);
  return [0x43, ...b];
};
export const get = (l: number): Code => [0x20, ...uleb(l)];
export const set = (l: number, v: Code): Code => [v, 0x21, ...uleb(l)];
export const tee = (l: number, v: Code): Code => [v, 0x22, ...uleb(l)];
/** `l += by` for an i32 local. */
export const inc = (l: number, by: Code = i32(1)): Code => set(l, I.add(get(l), by));

const bin = (op: number) => (a: Code, b: Code): Code => [a, b, op];
const un = (op: number) => (a: Code): Code => [a, op];

/** i32 operations. */
export const I = {
  add: bin(0x6a),
  sub: bin(0x6b),
  mul: bin(0x6c),
  divS: bin(0x6d),
  and: bin(0x71),
  or: bin(0x72),
  shl: bin(0x74),
  shrS: bin(0x75),
  shrU: bin(0x76),
  eqz: un(0x45),
  eq: bin(0x46),
  ne: bin(0x47),
  ltS: bin(0x48),
  gtS: bin(0x4a),
  leS: bin(0x4c),
  geS: bin(0x4e),
  load: (addr: Code, offset = 0): Code => [addr, 0x28, ...memarg(2, offset)],
  store: (addr: Code, v: Code, offset = 0): Code => [addr, v, 0x36, ...memarg(2, offset)],
  fromF32: un(0xa8),
  reinterpret: un(0xbc),
};

/** f32 operations. */
export const F = {
  add: bin(0x92),
  sub: bin(0x93),
  mul: bin(0x94),
  div: bin(0x95),
  min: bin(0x96),
  max: bin(0x97),
  abs: un(0x8b),
  neg: un(0x8c),
  eq: bin(0x5b),
  ne: bin(0x5c),
  lt: bin(0x5d),
  gt: bin(0x5e),
  load: (addr: Code, offset = 0): Code => [addr, 0x2a, ...memarg(2, offset)],
  store: (addr: Code, v: Code, offset = 0): Code => [addr, v, 0x38, ...memarg(2, offset)],
  fromI32: un(0xb2),
  reinterpret: un(0xbe),
};

/** 128-bit SIMD operations (f32x4 unless named otherwise). */
export const V = {
  load: (addr: Code, offset = 0): Code => [addr, simd(0x00), ...memarg(4, offset)],
  load32Splat: (addr: Code, offset = 0): Code => [addr, simd(0x09), ...memarg(2, offset)],
  store: (addr: Code, v: Code, offset = 0): Code => [addr, v, simd(0x0b), ...memarg(4, offset)],
  splat: (x: Code): Code => [x, simd(0x13)],
  i32Splat: (x: Code): Code => [x, simd(0x11)],
  lane: (v: Code, lane: number): Code => [v, simd(0x1f), lane],
  add: (a: Code, b: Code): Code => [a, b, simd(0xe4)],
  sub: (a: Code, b: Code): Code => [a, b, simd(0xe5)],
  mul: (a: Code, b: Code): Code => [a, b, simd(0xe6)],
  div: (a: Code, b: Code): Code => [a, b, simd(0xe7)],
  min: (a: Code, b: Code): Code => [a, b, simd(0xe8)],
  max: (a: Code, b: Code): Code => [a, b, simd(0xe9)],
  neg: (a: Code): Code => [a, simd(0xe1)],
  abs: (a: Code): Code => [a, simd(0xe0)],
  nearest: (a: Code): Code => [a, simd(0x6a)],
  lt: (a: Code, b: Code): Code => [a, b, simd(0x43)],
  ne: (a: Code, b: Code): Code => [a, b, simd(0x42)],
  and: (a: Code, b: Code): Code => [a, b, simd(0x4e)],
  or: (a: Code, b: Code): Code => [a, b, simd(0x50)],
  xor: (a: Code, b: Code): Code => [a, b, simd(0x51)],
  /** Lanes of `a` where `mask` is set, else of `b`. */
  bitselect: (a: Code, b: Code, mask: Code): Code => [a, b, mask, simd(0x52)],
  toI32: (a: Code): Code => [a, simd(0xf8)], // i32x4.trunc_sat_f32x4_s
  fromI32: (a: Code): Code => [a, simd(0xfa)], // f32x4.convert_i32x4_s
  i32Add: (a: Code, b: Code): Code => [a, b, simd(0xae)],
  i32Shl: (a: Code, b: Code): Code => [a, b, simd(0xab)],
  /** `a * b + c`, fused where the CPU can (relaxed SIMD). */
  madd: (a: Code, b: Code, c: Code): Code => [a, b, c, simd(0x105)],
};

/** Structured control flow; `body` runs with the block's label at depth 0. */
export const block = (body: Code): Code => [0x02, 0x40, body, 0x0b];
export const loop = (body: Code): Code => [0x03, 0x40, body, 0x0b];
export const if_ = (cond: Code, then: Code, else_?: Code): Code =>
  else_ === undefined
    ? [cond, 0x04, 0x40, then, 0x0b]
    : [cond, 0x04, 0x40, then, 0x05, else_, 0x0b];
export const br = (depth: number): Code => [0x0c, ...uleb(depth)];
export const brIf = (depth: number, cond: Code): Code => [cond, 0x0d, ...uleb(depth)];
export const ret: Code = 0x0f;
export const call = (fn: number, ...args: Code[]): Code => [...args, 0x10, ...uleb(fn)];

/**
 * `for (i = from; i < to; i += step) body` over i32 locals; the loop is skipped when
 * `from >= to`. `body` must not branch out of the loop.
 */
export const forRange = (
  i: number,
  from: Code,
  to: Code,
  body: Code,
  step: Code = i32(1),
): Code => [
  set(i, from),
  block([brIf(0, I.geS(get(i), to)), loop([body, inc(i, step), brIf(0, I.ltS(get(i), to))])]),
];

/** A function: parameter types, local types (after the parameters), one optional result. */
export interface WasmFunction {
  readonly name: string;
  readonly params: readonly ValType[];
  readonly result?: ValType;
  readonly locals: readonly ValType[];
  readonly body: Code;
}

/** Allocates local indices for a function's parameters and locals. */
export class Locals {
  readonly params: ValType[] = [];
  readonly locals: ValType[] = [];
  #sealed = false;
  /** Adds a parameter (all parameters before any local). */
  param(t: ValType): number {
    if (this.#sealed) throw new Error("Cannot add a wasm parameter after a local");
    this.params.push(t);
    return this.params.length - 1;
  }
  /** Adds a local. */
  local(t: ValType): number {
    this.#sealed = true;
    this.locals.push(t);
    return this.params.length + this.locals.length - 1;
  }
}

/**
 * Emits a module that imports `env.memory` (shared when `shared`, `pages` 64 KiB pages
 * minimum and `maxPages` maximum) and exports `functions` by name, in order (function index
 * = position, for {@link call}).
 */
export function assemble(
  functions: readonly WasmFunction[],
  memory: { readonly pages: number; readonly maxPages: number; readonly shared: boolean },
): Uint8Array<ArrayBuffer> {
  const section = (id: number, content: number[]) => [id, ...uleb(content.length), ...content];
  const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
  const name = (s: string) => {
    const b = [...new TextEncoder().encode(s)];
    return [...uleb(b.length), ...b];
  };
  const types = functions.map((f) => [
    0x60,
    ...uleb(f.params.length),
    ...f.params,
    ...(f.result === undefined ? [0] : [1, f.result]),
  ]);
  const limits = memory.shared
    ? [0x03, ...uleb(memory.pages), ...uleb(memory.maxPages)]
    : [0x01, ...uleb(memory.pages), ...uleb(memory.maxPages)];
  const imports = [[...name("env"), ...name("memory"), 0x02, ...limits]];
  const bodies = functions.map((f) => {
    const runs: number[][] = [];
    for (const t of f.locals) {
      const last = runs[runs.length - 1];
      if (last && last[1] === t) last[0]++;
      else runs.push([1, t]);
    }
    const body = [...vec(runs.map(([n, t]) => [...uleb(n), t])), ...flatten(f.body), 0x0b];
    return [...uleb(body.length), ...body];
  });
  const bytes = [
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec(types)),
    ...section(2, vec(imports)),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(7, vec(functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(bodies)),
  ];
  return new Uint8Array(bytes);
}
