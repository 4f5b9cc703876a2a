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
 * @module
 */
import {
  assemble,
  block,
  brIf,
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
  loop,
  set,
  V,
  v128t,
  type WasmFunction,
} from "./_wasm_asm.ts";

/** Job kinds (word 0 of a job descriptor). */
export const JOB = Object.freeze({
  GEMM: 1,
  LSTM_FWD: 4,
  LSTM_BWD: 5,
  /** Several independent jobs run as one: [kind, count, (job, items) x count]. */
  MULTI: 6,
  TRANSPOSE: 7,
});

/** Word offsets of the GEMM job's fields. */
export const GEMM_ARGS = Object.freeze({
  a: 1,
  sa: 2,
  sk: 3,
  bp: 4,
  k: 5,
  c: 6,
  ldc: 7,
  m: 8,
  panels: 9,
  /** 0: C = A·B; 1: C += A·B; 2: C = bias + A·B (bias: one row, `panels * 8` floats). */
  init: 10,
  bias: 11,
  /** Rows per item, panels per item, and the number of panel blocks. */
  rowBlock: 12,
  panelBlock: 13,
  panelBlocks: 14,
  /** Scratch: {@link A_PACK_BYTES} per item. */
  scratch: 15,
  size: 16,
});

/** Word offsets of the TRANSPOSE job's fields: dst[c][r] = src[r][c] (strides in bytes). */
export const TRANSPOSE_ARGS = Object.freeze({
  src: 1,
  ld: 2,
  rows: 3,
  cols: 4,
  dst: 5,
  ldDst: 6,
  /** Source rows per item. */
  rowBlock: 7,
  size: 8,
});

/**
 * Word offsets of the LSTM jobs' fields. Per-direction fields come in pairs (direction 0,
 * direction 1). Items are (direction, group) triples in `items`: direction, first and end
 * index into `rows`, the batch rows of the group.
 */
export const LSTM_ARGS = Object.freeze({
  batch: 1,
  steps: 2,
  hp: 3,
  dirs: 4,
  mask: 5, // f32 [B, T]
  rowOf: 6, // i32 [B*T]: matmul row of (b, t), or -1 when masked
  items: 7,
  rows: 8,
  scratch: 9, // per item: `scratchBytes` bytes
  scratchBytes: 10,
  /** Forward: the projection + bias [R, D*G]; backward: dy [B*T, D*Hp]. */
  input: 11,
  /** 1: keep what the backward pass needs (forward job only). */
  save: 12,
  /** Forward: out [B*T, D*Hp]; backward: dz [R, D*G]. */
  output: 13,
  weights: 14, // 2: packed recurrent [G/8][Hp][8] (forward) or transposed [Hp/8][G][8]
  state: 16, // 2: h (forward) or dh (backward), [B, Hp]
  cell: 18, // 2: c (forward) or dc (backward), [B, Hp]
  gates: 20, // 2: saved i, f, g, o per (step, b), [T, B, G]
  tanhC: 22, // 2: saved tanh(c_new), [T, B, Hp]
  cPrev: 24, // 2: saved c before the step, [T, B, Hp]
  hPrev: 26, // 2: saved h read by each matmul row, [R, Hp]
  /** Backward: dz per direction packed in panels of 8 columns, [G/8][R][8]. */
  packed: 28,
  /** R, the number of matmul rows. */
  matmulRows: 30,
  size: 31,
});

/** Bytes of scratch one LSTM item needs for a group of up to `rows` rows. */
export function lstmScratchBytes(rows: number, hp: number): number {
  const g = 4 * hp;
  const hp8 = Math.ceil(hp / 8) * 8;
  // active list, h (or dh back) rows, z (or dz) rows, the GEMM's packed A tile
  return align64(4 * rows) + align64(4 * rows * Math.max(hp, hp8)) + align64(4 * rows * g) +
    A_PACK_BYTES;
}

const align64 = (n: number) => Math.ceil(n / 64) * 64;

/** The rows of one GEMM micro-tile. */
export const TILE_ROWS = 6;
/** K runs in chunks of this many (cache blocking). */
export const K_CHUNK = 256;

// Function indices (the order of `functions` below).
const FN = {
  run: 0,
  gemmRows: 1,
  /** tile1_rows..tile6_rows at 2..7, tile1_packed..tile6_packed at 8..13. */
  tile: (m: number, source: TileSource) => 1 + m + 6 * TILE_SOURCES.indexOf(source),
  gemmItem: 14,
  lstmFwdItem: 15,
  lstmBwdItem: 16,
  gatesFwd: 17,
  gatesBwd: 18,
  transposeItem: 19,
};

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

const zeroV = (): Code => V.i32Splat(i32(0));
const splatF = (x: number): Code => V.splat(f32(x));

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

/**
 * Where a tile reads A: "rows" straight from rows of contiguous k (`sk` = 4, row stride
 * `sa`), "packed" from a copy laid out `[k][6]` (any strides; see gemmRows).
 */
type TileSource = "rows" | "packed";
const TILE_SOURCES: readonly TileSource[] = ["rows", "packed"];

/** Bytes of the packed A tile a GEMM needs as scratch (see {@link gemmRowsFn}). */
export const A_PACK_BYTES = 4 * TILE_ROWS * 256;

/**
 * `tileM(ap, bp, kc, pstride, c, ldc, panels, init, bias)`: M rows (M <= 6) by `panels`
 * panels of 8 columns, over `kc` inner steps. A comes packed as `[kc][6]` at `ap` (see
 * gemmRows), so every load has a constant offset from one of two pointers and k unrolls by
 * 4: few instructions per multiply-add, which keeps the front end from being the limit.
 * `bp` is the first panel's slice, `pstride` the bytes between panels. init 0: zero, 1:
 * load C, 2: load the bias row.
 */
function tileFn(
  m: number,
  source: TileSource,
  madd: (a: Code, b: Code, c: Code) => Code,
): WasmFunction {
  const L = new Locals();
  const ap = L.param(i32t), bp = L.param(i32t), kc = L.param(i32t), pstride = L.param(i32t);
  const c = L.param(i32t), ldc = L.param(i32t), panels = L.param(i32t), init = L.param(i32t);
  const bias = L.param(i32t), sa = L.param(i32t);
  const p = L.local(i32t), k = L.local(i32t), bptr = L.local(i32t), aptr = L.local(i32t);
  const cptr = L.local(i32t), bpan = L.local(i32t), biasp = L.local(i32t), kmain = L.local(i32t);
  const rowA = Array.from({ length: source === "rows" ? m : 0 }, () => L.local(i32t));
  const rowC = Array.from({ length: m }, () => L.local(i32t));
  const acc = Array.from({ length: m }, () => [L.local(v128t), L.local(v128t)]);
  const b0 = L.local(v128t), b1 = L.local(v128t), av = L.local(v128t);

  const initAcc: Code[] = [], loadC: Code[] = [], loadBias: Code[] = [], store: Code[] = [];
  for (let r = 0; r < m; r++) {
    for (let j = 0; j < 2; j++) {
      initAcc.push(set(acc[r][j], zeroV()));
      loadC.push(set(acc[r][j], V.load(get(rowC[r]), 16 * j)));
      loadBias.push(set(acc[r][j], V.load(get(biasp), 16 * j)));
      store.push(V.store(get(rowC[r]), get(acc[r][j]), 16 * j));
    }
  }
  // Step u of a group: B's 8 values at bptr + 32u; A(r, k) at aptr + 24u + 4r (packed) or
  // at rowA[r] + 4u (rows).
  const aAt = (r: number, u: number): Code =>
    source === "packed"
      ? V.load32Splat(get(aptr), 4 * TILE_ROWS * u + 4 * r)
      : V.load32Splat(get(rowA[r]), 4 * u);
  const kStep = (u: number): Code[] => {
    const out: Code[] = [
      set(b0, V.load(get(bptr), 32 * u)),
      set(b1, V.load(get(bptr), 32 * u + 16)),
    ];
    for (let r = 0; r < m; r++) {
      out.push(
        set(av, aAt(r, u)),
        set(acc[r][0], madd(get(av), get(b0), get(acc[r][0]))),
        set(acc[r][1], madd(get(av), get(b1), get(acc[r][1]))),
      );
    }
    return out;
  };
  const setRowC: Code[] = [];
  for (let r = 0; r < m; r++) {
    setRowC.push(set(rowC[r], I.add(get(cptr), I.mul(get(ldc), i32(r)))));
  }
  const body: Code[] = [
    set(bpan, get(bp)),
    set(cptr, get(c)),
    set(biasp, get(bias)),
    set(kmain, I.and(get(kc), i32(~3))),
    forRange(p, i32(0), get(panels), [
      setRowC,
      if_(
        I.eqz(get(init)),
        initAcc,
        if_(I.eq(get(init), i32(1)), loadC, loadBias),
      ),
      set(bptr, get(bpan)),
      set(aptr, get(ap)),
      ...rowA.map((ra, r) => set(ra, I.add(get(ap), I.mul(get(sa), i32(r))))),
      forRange(k, i32(0), get(kmain), [
        kStep(0),
        kStep(1),
        kStep(2),
        kStep(3),
        inc(bptr, i32(128)),
        inc(aptr, i32(16 * TILE_ROWS)),
        ...rowA.map((ra) => inc(ra, i32(16))),
      ], i32(4)),
      forRange(k, get(kmain), get(kc), [
        kStep(0),
        inc(bptr, i32(32)),
        inc(aptr, i32(4 * TILE_ROWS)),
        ...rowA.map((ra) => inc(ra, i32(4))),
      ]),
      store,
      inc(bpan, get(pstride)),
      inc(cptr, i32(32)),
      inc(biasp, i32(32)),
    ]),
  ];
  return { name: `tile${m}_${source}`, params: L.params, locals: L.locals, body };
}

/**
 * `gemmRows(a, sa, sk, bp, K, c, ldc, M, p0, p1, init, bias, apack)`: rows [0, M) of A by
 * panels [p0, p1), K in chunks of {@link K_CHUNK}. Each tile of A (up to 6 rows by one K
 * chunk) is first copied to `apack` ({@link A_PACK_BYTES} of scratch) as `[k][6]`, then
 * runs against every panel.
 */
function gemmRowsFn(): WasmFunction {
  const L = new Locals();
  const a = L.param(i32t), sa = L.param(i32t), sk = L.param(i32t), bp = L.param(i32t);
  const kk = L.param(i32t), c = L.param(i32t), ldc = L.param(i32t), m = L.param(i32t);
  const p0 = L.param(i32t), p1 = L.param(i32t), init = L.param(i32t), bias = L.param(i32t);
  const apack = L.param(i32t);
  const k0 = L.local(i32t), kc = L.local(i32t), r = L.local(i32t), rows = L.local(i32t);
  const ini = L.local(i32t), pstride = L.local(i32t), k = L.local(i32t), q = L.local(i32t);
  const src = L.local(i32t), dst = L.local(i32t);
  // A(r + q, k0 + k) -> apack[k][q] for q < rows.
  const packA = forRange(q, i32(0), get(rows), [
    set(src, I.add(get(a), I.add(I.mul(I.add(get(r), get(q)), get(sa)), I.mul(get(k0), get(sk))))),
    set(dst, I.add(get(apack), I.mul(get(q), i32(4)))),
    forRange(k, i32(0), get(kc), [
      F.store(get(dst), F.load(get(src))),
      inc(src, get(sk)),
      inc(dst, i32(4 * TILE_ROWS)),
    ]),
  ]);
  const tileCall = (fn: number, source: TileSource): Code =>
    call(
      fn,
      source === "packed"
        ? get(apack)
        : I.add(get(a), I.add(I.mul(get(r), get(sa)), I.mul(get(k0), get(sk)))),
      I.add(get(bp), I.add(I.mul(get(p0), get(pstride)), I.mul(get(k0), i32(32)))),
      get(kc),
      get(pstride),
      I.add(get(c), I.add(I.mul(get(r), get(ldc)), I.mul(get(p0), i32(32)))),
      get(ldc),
      I.sub(get(p1), get(p0)),
      get(ini),
      I.add(get(bias), I.mul(get(p0), i32(32))),
      get(sa),
    );
  const byRows = (source: TileSource): Code => {
    let out: Code = [];
    for (let t = 1; t <= TILE_ROWS; t++) {
      out = if_(I.eq(get(rows), i32(t)), tileCall(FN.tile(t, source), source), out);
    }
    return out;
  };
  return {
    name: "gemmRows",
    params: L.params,
    locals: L.locals,
    body: [
      set(pstride, I.mul(get(kk), i32(32))),
      // One pass even when K == 0: C still gets initialised.
      set(k0, i32(0)),
      block(loop([
        set(kc, I.sub(get(kk), get(k0))),
        if_(I.gtS(get(kc), i32(K_CHUNK)), set(kc, i32(K_CHUNK))),
        // The first chunk initialises as asked; later chunks accumulate.
        set(ini, get(init)),
        if_(I.gtS(get(k0), i32(0)), set(ini, i32(1))),
        forRange(r, i32(0), get(m), [
          set(rows, I.sub(get(m), get(r))),
          if_(I.gtS(get(rows), i32(TILE_ROWS)), set(rows, i32(TILE_ROWS))),
          // Rows of contiguous k are read in place; any other A is packed first.
          if_(I.eq(get(sk), i32(4)), byRows("rows"), [packA, byRows("packed")]),
        ], i32(TILE_ROWS)),
        inc(k0, i32(K_CHUNK)),
        brIf(0, I.ltS(get(k0), get(kk))),
      ])),
    ],
  };
}

/** The GEMM job's item: a row block by a panel block. */
function gemmItemFn(): WasmFunction {
  const L = new Locals();
  const job = L.param(i32t), item = L.param(i32t);
  const rb = L.local(i32t), pb = L.local(i32t), r0 = L.local(i32t), r1 = L.local(i32t);
  const q0 = L.local(i32t), q1 = L.local(i32t);
  const A = GEMM_ARGS;
  const arg = (w: number): Code => I.load(get(job), 4 * w);
  return {
    name: "gemmItem",
    params: L.params,
    locals: L.locals,
    body: [
      set(rb, I.divS(get(item), arg(A.panelBlocks))),
      set(pb, I.sub(get(item), I.mul(get(rb), arg(A.panelBlocks)))),
      set(r0, I.mul(get(rb), arg(A.rowBlock))),
      set(r1, I.add(get(r0), arg(A.rowBlock))),
      if_(I.gtS(get(r1), arg(A.m)), set(r1, arg(A.m))),
      set(q0, I.mul(get(pb), arg(A.panelBlock))),
      set(q1, I.add(get(q0), arg(A.panelBlock))),
      if_(I.gtS(get(q1), arg(A.panels)), set(q1, arg(A.panels))),
      if_(
        I.ltS(get(r0), get(r1)),
        call(
          FN.gemmRows,
          I.add(arg(A.a), I.mul(get(r0), arg(A.sa))),
          arg(A.sa),
          arg(A.sk),
          arg(A.bp),
          arg(A.k),
          I.add(arg(A.c), I.mul(get(r0), arg(A.ldc))),
          arg(A.ldc),
          I.sub(get(r1), get(r0)),
          get(q0),
          get(q1),
          arg(A.init),
          arg(A.bias),
          I.add(arg(A.scratch), I.mul(get(item), i32(A_PACK_BYTES))),
        ),
      ),
    ],
  };
}

/**
 * The TRANSPOSE job's item: a block of source rows. For each column the block's rows are
 * read down the column and written contiguously, so both sides stay in cache.
 */
function transposeItemFn(): WasmFunction {
  const L = new Locals();
  const job = L.param(i32t), item = L.param(i32t);
  const r0 = L.local(i32t), r1 = L.local(i32t), r = L.local(i32t), col = L.local(i32t);
  const src = L.local(i32t), dst = L.local(i32t);
  const A = TRANSPOSE_ARGS;
  const arg = (w: number): Code => I.load(get(job), 4 * w);
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

/**
 * exp(x) for x in [-87, 88] (callers clamp): 2^n e^r with n = round(x log2 e) and a
 * degree-6 polynomial for e^r on |r| <= ln2 / 2 (Cephes' expf coefficients; relative
 * error ~1e-7). `t` and `n` are v128 scratch locals; the result is an expression.
 */
function expV(x: Code, t: number, n: number): Code[] {
  return [
    set(t, x),
    set(n, V.nearest(V.mul(get(t), splatF(Math.LOG2E)))),
    set(t, V.sub(get(t), V.mul(get(n), splatF(0.693359375)))),
    set(t, V.sub(get(t), V.mul(get(n), splatF(-2.12194440e-4)))),
  ];
}
// e^r polynomial in t, times 2^n, as one expression (reads t and n).
function expTail(t: number, n: number): Code {
  const horner = (acc: Code, coef: number) => V.add(V.mul(acc, get(t)), splatF(coef));
  let poly: Code = splatF(1.9875691500e-4);
  for (const coef of [1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1]) {
    poly = horner(poly, coef);
  }
  poly = horner(poly, 5.0000001201e-1);
  // p = poly * t^2 + t + 1
  const e = V.add(V.add(V.mul(poly, V.mul(get(t), get(t))), get(t)), splatF(1));
  const scale = V.i32Shl(V.i32Add(V.toI32(get(n)), V.i32Splat(i32(127))), i32(23));
  return V.mul(e, scale);
}

/** sigmoid(x) = 1 / (1 + exp(-x)), exp's argument clamped to [-87, 87]. */
function sigmoidV(x: Code, s: { t: number; n: number }): Code[] {
  return [
    ...expV(V.min(V.max(V.neg(x), splatF(-87)), splatF(87)), s.t, s.n),
    set(s.t, V.div(splatF(1), V.add(splatF(1), expTail(s.t, s.n)))),
  ];
}

/**
 * `gatesFwd(z, n, hp, rows, active, mask, maskStride, h, c, gates, gStride, tanhC, cPrev,
 * hStride, hPrev, rowOf, save)`: the cell update of `n` gathered rows. Row j's
 * pre-activations are z[j] (G floats); its batch row b = active[j]; `mask` points at
 * mask[0, time] (row stride `maskStride` bytes); `gates` etc. point at step s's [B, ...]
 * slice; `rowOf` at rowOf[0*T + time] (stride `maskStride`), `hPrev` at the matmul rows.
 */
function gatesFwdFn(): WasmFunction {
  const L = new Locals();
  const z = L.param(i32t), n = L.param(i32t), hp = L.param(i32t), active = L.param(i32t);
  const mask = L.param(i32t), maskStride = L.param(i32t), h = L.param(i32t);
  const c = L.param(i32t), gates = L.param(i32t), tanhC = L.param(i32t);
  const cPrev = L.param(i32t), hPrev = L.param(i32t), rowOf = L.param(i32t);
  const save = L.param(i32t);
  const j = L.local(i32t), b = L.local(i32t), k = L.local(i32t), zr = L.local(i32t);
  const hb = L.local(i32t), gb = L.local(i32t), sb = L.local(i32t), pb = L.local(i32t);
  const hpB = L.local(i32t);
  const mm = L.local(v128t), vi = L.local(v128t), vf = L.local(v128t), vg = L.local(v128t);
  const vo = L.local(v128t), cp = L.local(v128t), cn = L.local(v128t), tc = L.local(v128t);
  const hOld = L.local(v128t);
  const s = { t: L.local(v128t), n: L.local(v128t) };
  const zAt = (q: number): Code => V.load(I.add(I.add(get(zr), I.mul(get(hpB), i32(q))), get(k)));
  return {
    name: "gatesFwd",
    params: L.params,
    locals: L.locals,
    body: [
      set(hpB, I.mul(get(hp), i32(4))),
      forRange(j, i32(0), get(n), [
        set(b, I.load(I.add(get(active), I.mul(get(j), i32(4))))),
        set(mm, V.load32Splat(I.add(get(mask), I.mul(get(b), get(maskStride))))),
        set(zr, I.add(get(z), I.mul(get(j), I.mul(get(hpB), i32(4))))),
        set(hb, I.mul(get(b), get(hpB))),
        set(gb, I.add(get(gates), I.mul(get(hb), i32(4)))),
        set(sb, get(hb)),
        set(
          pb,
          I.add(
            get(hPrev),
            I.mul(I.load(I.add(get(rowOf), I.mul(get(b), get(maskStride)))), get(hpB)),
          ),
        ),
        forRange(k, i32(0), get(hpB), [
          ...sigmoidV(zAt(0), s),
          set(vi, get(s.t)),
          ...sigmoidV(zAt(1), s),
          set(vf, get(s.t)),
          ...sigmoidV(V.add(zAt(2), zAt(2)), s),
          set(vg, V.sub(V.add(get(s.t), get(s.t)), splatF(1))),
          ...sigmoidV(zAt(3), s),
          set(vo, get(s.t)),
          set(cp, V.load(I.add(get(c), I.add(get(sb), get(k))))),
          set(cn, V.add(V.mul(get(vf), get(cp)), V.mul(get(vi), get(vg)))),
          ...sigmoidV(V.add(get(cn), get(cn)), s),
          set(tc, V.sub(V.add(get(s.t), get(s.t)), splatF(1))),
          set(hOld, V.load(I.add(get(h), I.add(get(sb), get(k))))),
          if_(get(save), [
            V.store(I.add(get(gb), get(k)), get(vi)),
            V.store(I.add(I.add(get(gb), get(hpB)), get(k)), get(vf)),
            V.store(I.add(I.add(get(gb), I.mul(get(hpB), i32(2))), get(k)), get(vg)),
            V.store(I.add(I.add(get(gb), I.mul(get(hpB), i32(3))), get(k)), get(vo)),
            V.store(I.add(get(tanhC), I.add(get(sb), get(k))), get(tc)),
            V.store(I.add(get(cPrev), I.add(get(sb), get(k))), get(cp)),
            V.store(I.add(get(pb), get(k)), get(hOld)),
          ]),
          // Hold the state on padded steps: state += m * (new - state).
          V.store(
            I.add(get(c), I.add(get(sb), get(k))),
            V.add(get(cp), V.mul(get(mm), V.sub(get(cn), get(cp)))),
          ),
          V.store(
            I.add(get(h), I.add(get(sb), get(k))),
            V.add(get(hOld), V.mul(get(mm), V.sub(V.mul(get(vo), get(tc)), get(hOld)))),
          ),
        ], i32(16)),
      ]),
    ],
  };
}

/**
 * `gatesBwd(dz, n, hp, rows, active, mask, maskStride, dh, dc, gates, tanhC, cPrev, dzAll,
 * dzStride, rowOf, dirOffset, packed, panelBytes)`: the gate gradients of `n` gathered rows
 * (dh already holds the output gradient of this step); writes dz compact (row j), into
 * dzAll at the row's matmul row and into the direction's packed copy (`panelBytes` = 32 R
 * bytes per panel), and leaves dh = dh_total - dh_new (the recurrent term is added by the
 * caller) and dc updated.
 */
function gatesBwdFn(): WasmFunction {
  const L = new Locals();
  const dz = L.param(i32t), n = L.param(i32t), hp = L.param(i32t), active = L.param(i32t);
  const mask = L.param(i32t), maskStride = L.param(i32t), dh = L.param(i32t);
  const dc = L.param(i32t), gates = L.param(i32t), tanhC = L.param(i32t);
  const cPrev = L.param(i32t), dzAll = L.param(i32t), dzStride = L.param(i32t);
  const rowOf = L.param(i32t), dirOffset = L.param(i32t), packed = L.param(i32t);
  const panelBytes = L.param(i32t);
  const j = L.local(i32t), b = L.local(i32t), k = L.local(i32t), zr = L.local(i32t);
  const sb = L.local(i32t), gb = L.local(i32t), za = L.local(i32t), hpB = L.local(i32t);
  const pr = L.local(i32t), col = L.local(i32t), r = L.local(i32t);
  const mm = L.local(v128t), dht = L.local(v128t), dhn = L.local(v128t), dci = L.local(v128t);
  const vi = L.local(v128t), vf = L.local(v128t), vg = L.local(v128t), vo = L.local(v128t);
  const tc = L.local(v128t), dcn = L.local(v128t), one = L.local(v128t), d = L.local(v128t);
  // dz of gate q goes to the compact rows, to dzAll's row and, packed in panels of 8
  // columns ([G/8][R][8]), to the direction's copy the weight gradients read.
  const storeBoth = (q: number, v: Code): Code => [
    set(d, v),
    V.store(I.add(I.add(get(zr), I.mul(get(hpB), i32(q))), get(k)), get(d)),
    V.store(I.add(I.add(get(za), I.mul(get(hpB), i32(q))), get(k)), get(d)),
    set(col, I.add(I.mul(get(hp), i32(q)), I.shrU(get(k), i32(2)))),
    V.store(
      I.add(
        get(pr),
        I.add(
          I.mul(I.shrU(get(col), i32(3)), get(panelBytes)),
          I.shl(I.and(get(col), i32(4)), i32(2)),
        ),
      ),
      get(d),
    ),
  ];
  const gate = (q: number): Code => V.load(I.add(I.add(get(gb), I.mul(get(hpB), i32(q))), get(k)));
  return {
    name: "gatesBwd",
    params: L.params,
    locals: L.locals,
    body: [
      set(hpB, I.mul(get(hp), i32(4))),
      set(one, splatF(1)),
      forRange(j, i32(0), get(n), [
        set(b, I.load(I.add(get(active), I.mul(get(j), i32(4))))),
        set(mm, V.load32Splat(I.add(get(mask), I.mul(get(b), get(maskStride))))),
        set(zr, I.add(get(dz), I.mul(get(j), I.mul(get(hpB), i32(4))))),
        set(sb, I.mul(get(b), get(hpB))),
        set(gb, I.add(get(gates), I.mul(get(sb), i32(4)))),
        set(r, I.load(I.add(get(rowOf), I.mul(get(b), get(maskStride))))),
        set(za, I.add(I.add(get(dzAll), I.mul(get(r), get(dzStride))), get(dirOffset))),
        set(pr, I.add(get(packed), I.mul(get(r), i32(32)))),
        forRange(k, i32(0), get(hpB), [
          set(dht, V.load(I.add(get(dh), I.add(get(sb), get(k))))),
          set(dhn, V.mul(get(mm), get(dht))),
          set(dci, V.mul(get(mm), V.load(I.add(get(dc), I.add(get(sb), get(k)))))),
          set(vi, gate(0)),
          set(vf, gate(1)),
          set(vg, gate(2)),
          set(vo, gate(3)),
          set(tc, V.load(I.add(get(tanhC), I.add(get(sb), get(k))))),
          set(
            dcn,
            V.add(
              get(dci),
              V.mul(V.mul(get(dhn), get(vo)), V.sub(get(one), V.mul(get(tc), get(tc)))),
            ),
          ),
          storeBoth(0, V.mul(V.mul(get(dcn), get(vg)), V.mul(get(vi), V.sub(get(one), get(vi))))),
          storeBoth(
            1,
            V.mul(
              V.mul(get(dcn), V.load(I.add(get(cPrev), I.add(get(sb), get(k))))),
              V.mul(get(vf), V.sub(get(one), get(vf))),
            ),
          ),
          storeBoth(
            2,
            V.mul(V.mul(get(dcn), get(vi)), V.sub(get(one), V.mul(get(vg), get(vg)))),
          ),
          storeBoth(3, V.mul(V.mul(get(dhn), get(tc)), V.mul(get(vo), V.sub(get(one), get(vo))))),
          V.store(I.add(get(dh), I.add(get(sb), get(k))), V.sub(get(dht), get(dhn))),
          V.store(
            I.add(get(dc), I.add(get(sb), get(k))),
            V.add(
              V.sub(V.load(I.add(get(dc), I.add(get(sb), get(k)))), get(dci)),
              V.mul(get(dcn), get(vf)),
            ),
          ),
        ], i32(16)),
      ]),
    ],
  };
}

/**
 * What both LSTM items start with: the item's (direction, first, end) into the rows list,
 * the sizes, this item's scratch, and the pointers every item reads; plus `zeroRows`, which
 * zeroes two [B, Hp] state arrays for the group's rows.
 */
function lstmItemHeader(L: Locals, job: number, item: number) {
  const A = LSTM_ARGS;
  const dir = L.local(i32t), first = L.local(i32t), end = L.local(i32t);
  const B = L.local(i32t), T = L.local(i32t), hp = L.local(i32t), D = L.local(i32t);
  const G = L.local(i32t), hpB = L.local(i32t), gB = L.local(i32t), activeP = L.local(i32t);
  const maskP = L.local(i32t), rowOfP = L.local(i32t), rowsP = L.local(i32t);
  const q = L.local(i32t), b = L.local(i32t), k = L.local(i32t);
  const arg = (w: number): Code => I.load(get(job), 4 * w);
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

/** One direction of the forward recurrence for one group of batch rows. */
function lstmFwdItemFn(): WasmFunction {
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

const alignCode = (bytes: Code): Code => I.and(I.add(bytes, i32(63)), i32(~63));

/** One direction of the backward recurrence (BPTT) for one group of batch rows. */
function lstmBwdItemFn(): WasmFunction {
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
