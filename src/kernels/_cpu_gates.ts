/**
 * The LSTM cell's gate math in the CPU module: a polynomial exp, sigmoid and tanh from it,
 * the forward cell update (`gatesFwd`) and the gate gradients (`gatesBwd`) of a step's
 * gathered rows.
 *
 * @module
 */
import {
  type Code,
  f32,
  forRange,
  get,
  I,
  i32,
  i32t,
  if_,
  Locals,
  set,
  V,
  v128t,
  type WasmFunction,
} from "./_wasm_asm.ts";

const splatF = (x: number): Code => V.splat(f32(x));

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
export function gatesFwdFn(): WasmFunction {
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
export function gatesBwdFn(): WasmFunction {
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
