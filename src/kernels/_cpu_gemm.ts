/**
 * The GEMM job of the CPU module: the 6 x 8 micro-tiles (`tileM`, A read in place or from a
 * packed copy), `gemmRows` (K chunks, packing A, tiles against panels of B) and the job's
 * item (a row block by a panel block).
 *
 * @module
 */
import {
  block,
  brIf,
  call,
  type Code,
  F,
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
import { A_PACK_BYTES, GEMM_ARGS, K_CHUNK, TILE_ROWS } from "./_cpu_layout.ts";
import { FN, jobArg, type TileSource, zeroV } from "./_cpu_functions.ts";

/**
 * `tileM(ap, bp, kc, pstride, c, ldc, panels, init, bias)`: M rows (M <= 6) by `panels`
 * panels of 8 columns, over `kc` inner steps. A comes packed as `[kc][6]` at `ap` (see
 * gemmRows), so every load has a constant offset from one of two pointers and k unrolls by
 * 4: few instructions per multiply-add, which keeps the front end from being the limit.
 * `bp` is the first panel's slice, `pstride` the bytes between panels. init 0: zero, 1:
 * load C, 2: load the bias row.
 */
export function tileFn(
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
export function gemmRowsFn(): WasmFunction {
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
export function gemmItemFn(): WasmFunction {
  const L = new Locals();
  const job = L.param(i32t), item = L.param(i32t);
  const rb = L.local(i32t), pb = L.local(i32t), r0 = L.local(i32t), r1 = L.local(i32t);
  const q0 = L.local(i32t), q1 = L.local(i32t);
  const A = GEMM_ARGS;
  const arg = jobArg(job);
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
