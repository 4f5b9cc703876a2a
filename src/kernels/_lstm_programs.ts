/**
 * The two persistent LSTM programs (WGSL). One workgroup per (batch row, direction) walks
 * every time step of one layer in a single dispatch, keeping the hidden state (forward) or
 * the gate gradients (backward) in workgroup memory and synchronising with barriers.
 *
 * A workgroup owns `RB` (4) batch rows of one direction: every recurrent weight it loads
 * serves 4 rows (register tiling), which matters most on CPU adapters, where each load
 * instruction is a loop over the SIMD lanes. Thread `l` of the 32-thread workgroup owns
 * hidden units `l, l + 32, ...` (`UPT` of them, a compile-time constant: 1, 2, 4 or 8),
 * so few shader variants exist (see {@link lstmProgramShape}). Measured on llvmpipe for
 * W's layer (hidden 128): 32 threads x 4 units ran forward 10 % and backward 25 % faster
 * than 64 x 2; 8 rows per workgroup made the forward 3x slower (its per-thread arrays
 * outgrow what the compiler unrolls and keeps in registers).
 *
 * Buffers (flat float32, row = b * T + t in natural time; d = direction, 1 = backward):
 * - forward output: `OUT[B*T, D*H]` (the layer output in the contract layout) followed by
 *   `SAVE[B*T, D, 5H]` = gates i, f, g, o and the held cell state c, per step;
 * - backward output: `DZ[B*T, D*4H]` (gate pre-activation gradients, natural layout),
 *   `DZD[D, B*T, 4H]` (the same per direction) and `HP[D, B*T, H]` (the hidden state
 *   each step read: h at t-1 forward, h at t+1 backward; zeros at the sequence start).
 *
 * @module
 */
import type { WebGpuProgramLike } from "./_webgpu_program.ts";

/** The largest hidden size the persistent programs handle (workgroup memory bound). */
export const LSTM_MAX_HIDDEN = 256;

/**
 * How a program's workgroup is laid out: `threads` threads own `units` hidden units each
 * (thread `l` owns `l, l + threads, ...`) for `rows` batch rows.
 */
export interface LstmProgramShape {
  readonly threads: number;
  readonly rows: number;
  readonly units: number;
}

/**
 * The layout for `hidden`: 32 threads and 4 batch rows per workgroup, 1, 2, 4 or 8 units
 * per thread (few shader variants). More units and rows per thread mean more
 * multiply-adds per loaded value, which is what counts on CPU adapters.
 */
export function lstmProgramShape(hidden: number): LstmProgramShape {
  const threads = 32;
  const n = Math.ceil(hidden / threads);
  const units = n <= 1 ? 1 : n <= 2 ? 2 : n <= 4 ? 4 : 8;
  return { threads, rows: 4, units };
}

const HELPERS = `
fn lstmSigmoid(x : f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
fn lstmTanh(x : f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  let r = (1.0 - e) / (1.0 + e);
  return select(r, -r, x < 0.0);
}
`;

/**
 * Forward: inputs P (projection [B*T, D*4H], bias included), M [B, T], and R0, R1 the
 * recurrent weights gate-interleaved, [H, H, 4] (`R[k, g*H + j]` at `[k, j, g]`), read as
 * one vec4 per (k, j).
 */
export class LstmForwardProgram implements WebGpuProgramLike {
  variableNames = ["P", "M", "R0", "R1"];
  variableComponents = [1, 1, 4, 4];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  uniforms = "batch : i32, steps : i32, hidden : i32, dirs : i32,";

  constructor(
    batch: number,
    steps: number,
    hidden: number,
    dirs: number,
    private readonly shape: LstmProgramShape = lstmProgramShape(hidden),
  ) {
    this.outputShape = [batch * steps * dirs * hidden * 6];
    this.workgroupSize = [shape.threads, 1, 1];
    this.dispatch = [Math.ceil(batch / shape.rows), dirs, 1];
    this.shaderKey = `lstm_persistent_fwd_v6_${shape.threads}_${shape.units}_${shape.rows}`;
  }

  getUserCode(): string {
    const { threads, rows, units } = this.shape;
    // Four k per iteration: the hidden states come from workgroup memory as one vec4 per
    // batch row, shared by every unit of the thread (on CPU adapters each load instruction,
    // not each FLOP, is what costs).
    const loop = (r: string) => `
      for (var k4 = 0; k4 < H4; k4++) {
        var hv : array<vec4<f32>, RB>;
        for (var q = 0; q < RB; q++) {
          hv[q] = hsh[q * HS4 + k4];
        }
        for (var kk = 0; kk < 4; kk++) {
          let rb = min(4 * k4 + kk, H - 1) * H;
          for (var u = 0; u < UPT; u++) {
            let w = ${r}[rb + min(lid + u * WG, H - 1)];
            for (var q = 0; q < RB; q++) {
              acc[q * UPT + u] += hv[q][kk] * w;
            }
          }
        }
      }`;
    return `
${HELPERS}
const UPT = ${units};
const WG = ${threads};
const RB = ${rows};
const HS4 = ${(units * threads) / 4};
// h of batch row q, unit j at hsh[q * HS4 + j / 4][j % 4]; units >= H stay zero.
var<workgroup> hsh : array<vec4<f32>, ${(rows * units * threads) / 4}>;

// main(index) is tfjs' entry for a flat dispatch layout; the index is unused.
fn main(index : i32) {
  let b0 = i32(workgroupId.x) * RB;
  let d = i32(workgroupId.y);
  let B = uniforms.batch;
  let T = uniforms.steps;
  let H = uniforms.hidden;
  let D = uniforms.dirs;
  let G4 = 4 * H;
  let H4 = (H + 3) / 4;
  let lid = i32(localId.x);
  let saveBase = B * T * D * H;
  var c : array<f32, ${rows * units}>;
  for (var e = 0; e < RB * UPT; e++) {
    c[e] = 0.0;
  }
  for (var e = lid; e < RB * HS4; e += WG) {
    hsh[e] = vec4<f32>(0.0);
  }
  workgroupBarrier();
  for (var s = 0; s < T; s++) {
    let t = select(s, T - 1 - s, d == 1);
    var acc : array<vec4<f32>, ${rows * units}>;
    for (var q = 0; q < RB; q++) {
      let row = min(b0 + q, B - 1) * T + t;
      for (var u = 0; u < UPT; u++) {
        let j = min(lid + u * WG, H - 1);
        let pb = row * D * G4 + d * G4 + j;
        acc[q * UPT + u] = vec4<f32>(P[pb], P[pb + H], P[pb + 2 * H], P[pb + 3 * H]);
      }
    }
    if (d == 0) {${loop("R0")}
    } else {${loop("R1")}
    }
    workgroupBarrier();
    for (var q = 0; q < RB; q++) {
      let b = b0 + q;
      let row = b * T + t;
      for (var u = 0; u < UPT; u++) {
        let j = lid + u * WG;
        if (j < H && b < B) {
          let m = M[row];
          let z = acc[q * UPT + u];
          let gi = lstmSigmoid(z.x);
          let gf = lstmSigmoid(z.y);
          let gg = lstmTanh(z.z);
          let go = lstmSigmoid(z.w);
          let cOld = c[q * UPT + u];
          let cNew = gf * cOld + gi * gg;
          let hNew = go * lstmTanh(cNew);
          let cHeld = cOld + m * (cNew - cOld);
          c[q * UPT + u] = cHeld;
          let hOld = hsh[q * HS4 + j / 4][j % 4];
          let h = hOld + m * (hNew - hOld);
          hsh[q * HS4 + j / 4][j % 4] = h;
          result[row * D * H + d * H + j] = h;
          let sb = saveBase + (row * D + d) * 5 * H + j;
          result[sb] = gi;
          result[sb + H] = gf;
          result[sb + 2 * H] = gg;
          result[sb + 3 * H] = go;
          result[sb + 4 * H] = cHeld;
        }
      }
    }
    workgroupBarrier();
  }
}
`;
  }
}

/**
 * Backward: inputs DY [B, T, D*H] (upstream gradient), F (the forward program's output),
 * M [B, T], and R0, R1 the recurrent weights transposed and gate-interleaved, [H, H, 4]
 * (`R[j, g*H + n]` at `[n, j, g]`), read as one vec4 per (n, j).
 */
export class LstmBackwardProgram implements WebGpuProgramLike {
  variableNames = ["DY", "F", "M", "R0", "R1"];
  variableComponents = [1, 1, 1, 4, 4];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  uniforms = "batch : i32, steps : i32, hidden : i32, dirs : i32,";

  constructor(
    batch: number,
    steps: number,
    hidden: number,
    dirs: number,
    private readonly shape: LstmProgramShape = lstmProgramShape(hidden),
  ) {
    this.outputShape = [batch * steps * dirs * hidden * 9];
    this.workgroupSize = [shape.threads, 1, 1];
    this.dispatch = [Math.ceil(batch / shape.rows), dirs, 1];
    this.shaderKey = `lstm_persistent_bwd_v6_${shape.threads}_${shape.units}_${shape.rows}`;
  }

  getUserCode(): string {
    const { threads, rows, units } = this.shape;
    // One vec4 of gate gradients per (batch row, n) from workgroup memory, shared by the
    // thread's units; the weights come gate-interleaved and transposed so that the lanes of
    // a workgroup read consecutive vec4s.
    const loop = (r: string) => `
      for (var n = 0; n < H; n++) {
        let rb = n * H;
        var wv : array<vec4<f32>, UPT>;
        for (var u = 0; u < UPT; u++) {
          wv[u] = ${r}[rb + min(lid + u * WG, H - 1)];
        }
        for (var q = 0; q < RB; q++) {
          let z = dzsh[q * HS + n];
          for (var u = 0; u < UPT; u++) {
            a[q * UPT + u] += dot(z, wv[u]);
          }
        }
      }`;
    return `
${HELPERS}
const UPT = ${units};
const WG = ${threads};
const RB = ${rows};
const HS = ${units * threads};
// Gate gradients (i, f, g, o) of batch row q, unit n at dzsh[q * HS + n].
var<workgroup> dzsh : array<vec4<f32>, ${rows * units * threads}>;

fn main(index : i32) {
  let b0 = i32(workgroupId.x) * RB;
  let d = i32(workgroupId.y);
  let B = uniforms.batch;
  let T = uniforms.steps;
  let H = uniforms.hidden;
  let D = uniforms.dirs;
  let G4 = 4 * H;
  let BT = B * T;
  let lid = i32(localId.x);
  let saveBase = BT * D * H;
  let dzdBase = BT * D * G4;
  let hpBase = 2 * BT * D * G4;
  var dh : array<f32, ${rows * units}>;
  var dc : array<f32, ${rows * units}>;
  for (var e = 0; e < RB * UPT; e++) {
    dh[e] = 0.0;
    dc[e] = 0.0;
  }
  for (var s = T - 1; s >= 0; s--) {
    let t = select(s, T - 1 - s, d == 1);
    let tp = select(t - 1, t + 1, d == 1);
    for (var q = 0; q < RB; q++) {
      let b = b0 + q;
      let row = b * T + t;
      let rowPrev = b * T + tp;
      for (var u = 0; u < UPT; u++) {
        let j = lid + u * WG;
        let e = q * UPT + u;
        if (j < H && b < B) {
          let m = M[row];
          let sb = saveBase + (row * D + d) * 5 * H + j;
          let gi = F[sb];
          let gf = F[sb + H];
          let gg = F[sb + 2 * H];
          let go = F[sb + 3 * H];
          let tc = lstmTanh(F[sb + 4 * H]);
          var cPrev = 0.0;
          var hPrev = 0.0;
          if (s > 0) {
            cPrev = F[saveBase + (rowPrev * D + d) * 5 * H + 4 * H + j];
            hPrev = F[rowPrev * D * H + d * H + j];
          }
          let dhTot = dh[e] + DY[row * D * H + d * H + j];
          let dhNew = m * dhTot;
          let dcIn = m * dc[e];
          let dcNew = dcIn + dhNew * go * (1.0 - tc * tc);
          let dzi = dcNew * gg * gi * (1.0 - gi);
          let dzf = dcNew * cPrev * gf * (1.0 - gf);
          let dzg = dcNew * gi * (1.0 - gg * gg);
          let dzo = dhNew * tc * go * (1.0 - go);
          dzsh[q * HS + j] = vec4<f32>(dzi, dzf, dzg, dzo);
          let zb = row * D * G4 + d * G4 + j;
          result[zb] = dzi;
          result[zb + H] = dzf;
          result[zb + 2 * H] = dzg;
          result[zb + 3 * H] = dzo;
          let zdb = dzdBase + (d * BT + row) * G4 + j;
          result[zdb] = dzi;
          result[zdb + H] = dzf;
          result[zdb + 2 * H] = dzg;
          result[zdb + 3 * H] = dzo;
          result[hpBase + (d * BT + row) * H + j] = hPrev;
          dh[e] = dhTot - dhNew;
          dc[e] = dc[e] - dcIn + dcNew * gf;
        } else if (j < H) {
          dzsh[q * HS + j] = vec4<f32>(0.0);
        }
      }
    }
    workgroupBarrier();
    // Explicit zeroing: a declaration inside a loop is not re-zeroed by every WGSL compiler.
    var a : array<f32, ${rows * units}>;
    for (var e = 0; e < RB * UPT; e++) {
      a[e] = 0.0;
    }
    if (d == 0) {${loop("R0")}
    } else {${loop("R1")}
    }
    for (var e = 0; e < RB * UPT; e++) {
      dh[e] += a[e];
    }
    workgroupBarrier();
  }
}
`;
  }
}
