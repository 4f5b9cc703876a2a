/**
 * The two persistent LSTM programs (WGSL). One workgroup per (block of batch rows,
 * direction) walks every time step of one layer in a single dispatch, keeping the hidden state (forward) or
 * the gate gradients (backward) in workgroup memory and synchronising with barriers.
 *
 * A workgroup owns `RB` batch rows of one direction: every recurrent weight it loads
 * serves all of them (register tiling), which matters most on CPU adapters, where each
 * load instruction is a loop over the SIMD lanes. Each thread owns 1, 2, 4 or 8 hidden
 * units (a compile-time constant, so few shader variants exist; which units and how many
 * threads: {@link LstmProgramShape}, {@link lstmProgramShape}). Measured on llvmpipe for
 * W's layer (hidden 128): 32 threads x 4 units ran forward 10 % and backward 25 % faster
 * than 64 x 2.
 *
 * Buffers (flat float32, row = b * T + t in natural time; d = direction, 1 = backward):
 * - forward output: `OUT[B*T, D*H]` (the layer output in the contract layout) followed by
 *   `SAVE[B*T, D, 5H]` = gates i, f, g, o and the held cell state c, per step;
 * - backward output: `DZ[B*T, D*4H]` (gate pre-activation gradients, natural layout),
 *   `DZD[D, B*T, 4H]` (the same per direction), `HP[D, B*T, H]` (the hidden state each
 *   step read: h at t-1 forward, h at t+1 backward; zeros at the sequence start) and
 *   `DB[blocks, D*4H]`, each workgroup's sum of DZ over its rows and steps (summed over
 *   the blocks, the bias gradient).
 *
 * @module
 */
import type { WebGpuProgramLike } from "./_webgpu_program.ts";

/** The largest hidden size the persistent programs handle (workgroup memory bound). */
export const LSTM_MAX_HIDDEN = 256;

/**
 * How a program's workgroup is laid out: `threads` threads own `units` hidden units each
 * for `rows` batch rows. Backward, thread `l` owns units `l, l + threads, ...`; forward, it
 * owns runs of 4 consecutive units, `4l..4l+3, 4(l + threads)..`, so that each vec4 of h
 * in workgroup memory has one writer (WGSL leaves concurrent writes to different
 * components of one vector undefined: on Metal and D3D they read-modify-write the vector).
 */
export interface LstmProgramShape {
  readonly threads: number;
  readonly rows: number;
  readonly units: number;
}

/**
 * The layout for `hidden` and a pass. Backward: 32 threads with 1, 2, 4 or 8 units each
 * and at most 4 batch rows, keeping the per-thread (row, unit) pairs within 16. Forward:
 * 4 units per thread (8 above hidden 128), as many threads as that takes (at most 32), and
 * up to 8 rows within 32 pairs. More pairs per thread mean more multiply-adds per loaded
 * value, which is what counts on CPU adapters, and longer shaders: measured on llvmpipe
 * for W's layers (hidden 128, 4 units), forward 0.46 s with 8 rows against 0.59 s with 4;
 * backward 0.72 s with 8 rows against 0.83 s with 4, but that 32-pair backward shader took
 * 35 s to compile cold (the forward 5 s).
 */
export function lstmProgramShape(hidden: number, pass: "forward" | "backward"): LstmProgramShape {
  if (pass === "forward") {
    const units = hidden <= 128 ? 4 : 8;
    return { threads: Math.ceil(hidden / units), rows: 32 / units, units };
  }
  const threads = 32;
  const n = Math.ceil(hidden / threads);
  const units = n <= 1 ? 1 : n <= 2 ? 2 : n <= 4 ? 4 : 8;
  return { threads, rows: Math.min(4, 16 / units), units };
}

const HELPERS = `
fn lstmSigmoid(x : f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
fn lstmTanh(x : f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  let r = (1.0 - e) / (1.0 + e);
  return select(r, -r, x < 0.0);
}
`;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Every (batch row q, unit u) pair of a thread, for code generated once per pair. */
function pairs(shape: LstmProgramShape): [number, number][] {
  return range(shape.rows).flatMap((q) =>
    range(shape.units).map((u) => [q, u] as [number, number])
  );
}

/**
 * Code shared by both programs: sizes, this thread's units `j{u}` (clamped copies `jc{u}`
 * for loads; in runs of 4 consecutive units or strided by the thread count, see
 * {@link LstmProgramShape}) and the direction's offset into R.
 */
function prologue(shape: LstmProgramShape, runsOf4: boolean): string {
  const units = range(shape.units);
  const unit = (u: number) =>
    runsOf4 ? `4 * (lid + ${(u >> 2) * shape.threads}) + ${u & 3}` : `lid + ${u * shape.threads}`;
  return `
  let b0 = i32(workgroupId.x) * RB;
  let d = i32(workgroupId.y);
  let B = uniforms.batch;
  let T = uniforms.steps;
  let H = uniforms.hidden;
  let D = uniforms.dirs;
  let G4 = 4 * H;
  let lid = i32(localId.x);
  let rBase = d * H * H;
  ${units.map((u) => `let j${u} = ${unit(u)};`).join("\n  ")}
  ${units.map((u) => `let jc${u} = min(j${u}, H - 1);`).join("\n  ")}`;
}

/**
 * Forward: inputs P (projection [B*T, D*4H], bias included), M [B, T], and R, the
 * recurrent weights of every direction gate-interleaved, [D, H, H, 4] (`R_d[k, g*H + j]`
 * at `[d, k, j, g]`), read as one vec4 per (k, j).
 *
 * The per-thread state (c and the gate accumulators of each batch row and unit) is
 * generated as named variables: arrays indexed in loops are left in memory by CPU
 * adapters once the compiler stops unrolling.
 */
export class LstmForwardProgram implements WebGpuProgramLike {
  variableNames = ["P", "M", "R"];
  variableComponents = [1, 1, 4];
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
    private readonly shape: LstmProgramShape = lstmProgramShape(hidden, "forward"),
  ) {
    this.outputShape = [batch * steps * dirs * hidden * 6];
    this.workgroupSize = [shape.threads, 1, 1];
    this.dispatch = [Math.ceil(batch / shape.rows), dirs, 1];
    this.shaderKey = `lstm_persistent_fwd_v9_${shape.threads}_${shape.units}_${shape.rows}`;
  }

  getUserCode(): string {
    const { threads, rows, units } = this.shape;
    const qu = pairs(this.shape);
    const qs = range(rows);
    const us = range(units);
    // Four k per iteration: h comes from workgroup memory as one vec4 per batch row and
    // serves every unit of the thread (on CPU adapters each load instruction, not each
    // multiply-add, is what costs).
    const kLoop = `
    for (var k4 = 0; k4 < H4; k4++) {
      ${qs.map((q) => `let h${q} = hsh[${q} * HS4 + k4];`).join("\n      ")}
      ${
      range(4).map((kk) =>
        `{
        let rb = rBase + min(4 * k4 + ${kk}, H - 1) * H;
        ${us.map((u) => `let w${u} = R[rb + jc${u}];`).join("\n        ")}
        ${qu.map(([q, u]) => `acc${q}_${u} += h${q}[${kk}] * w${u};`).join("\n        ")}
      }`
      ).join("\n      ")
    }
    }`;
    // Per batch row and run of 4 units: this thread's vec4 of h, read and written whole.
    const update = qs.map((q) =>
      range(units / 4).map((v) => `
    if (b0 + ${q} < B) {
      let row = (b0 + ${q}) * T + t;
      let m = M[row];
      let hOld = hsh[${q} * HS4 + lid + ${v * threads}];
      var hNew4 = hOld;${
        range(4).map((i) => {
          const u = 4 * v + i;
          return `
      if (j${u} < H) {
        let gi = lstmSigmoid(acc${q}_${u}.x);
        let gf = lstmSigmoid(acc${q}_${u}.y);
        let gg = lstmTanh(acc${q}_${u}.z);
        let go = lstmSigmoid(acc${q}_${u}.w);
        let cOld = c${q}_${u};
        let cNew = gf * cOld + gi * gg;
        let hNew = go * lstmTanh(cNew);
        let cHeld = cOld + m * (cNew - cOld);
        c${q}_${u} = cHeld;
        let h = hOld[${i}] + m * (hNew - hOld[${i}]);
        hNew4[${i}] = h;
        result[row * D * H + d * H + j${u}] = h;
        let sb = saveBase + (row * D + d) * 5 * H + j${u};
        result[sb] = gi;
        result[sb + H] = gf;
        result[sb + 2 * H] = gg;
        result[sb + 3 * H] = go;
        result[sb + 4 * H] = cHeld;
      }`;
        }).join("")
      }
      hsh[${q} * HS4 + lid + ${v * threads}] = hNew4;
    }`).join("")
    ).join("");
    return `
${HELPERS}
const WG = ${threads};
const RB = ${rows};
const HS4 = ${(units * threads) / 4};
// h of batch row q, unit j at hsh[q * HS4 + j / 4][j % 4], each vec4 written whole by
// the thread that owns its 4 units; units >= H stay zero.
var<workgroup> hsh : array<vec4<f32>, ${(rows * units * threads) / 4}>;

// main(index) is tfjs' entry for a flat dispatch layout; the index is unused.
fn main(index : i32) {${prologue(this.shape, true)}
  let H4 = (H + 3) / 4;
  let saveBase = B * T * D * H;
  ${qu.map(([q, u]) => `var c${q}_${u} = 0.0;`).join("\n  ")}
  for (var e = lid; e < RB * HS4; e += WG) {
    hsh[e] = vec4<f32>(0.0);
  }
  workgroupBarrier();
  for (var s = 0; s < T; s++) {
    let t = select(s, T - 1 - s, d == 1);
    ${
      qu.map(([q, u]) =>
        `let pb${q}_${u} = (min(b0 + ${q}, B - 1) * T + t) * D * G4 + d * G4 + jc${u};
    var acc${q}_${u} = vec4<f32>(P[pb${q}_${u}], P[pb${q}_${u} + H], P[pb${q}_${u} + 2 * H], P[pb${q}_${u} + 3 * H]);`
      ).join("\n    ")
    }${kLoop}
    workgroupBarrier();${update}
    workgroupBarrier();
  }
}
`;
  }
}

/**
 * Backward: inputs DY [B, T, D*H] (upstream gradient), F (the forward program's output),
 * M [B, T], and R, the recurrent weights of every direction transposed and
 * gate-interleaved, [D, H, H, 4] (`R_d[j, g*H + n]` at `[d, n, j, g]`), read as one vec4
 * per (n, j).
 */
export class LstmBackwardProgram implements WebGpuProgramLike {
  variableNames = ["DY", "F", "M", "R"];
  variableComponents = [1, 1, 1, 4];
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
    private readonly shape: LstmProgramShape = lstmProgramShape(hidden, "backward"),
  ) {
    const blocks = Math.ceil(batch / shape.rows);
    this.outputShape = [batch * steps * dirs * hidden * 9 + blocks * dirs * 4 * hidden];
    this.workgroupSize = [shape.threads, 1, 1];
    this.dispatch = [Math.ceil(batch / shape.rows), dirs, 1];
    this.shaderKey = `lstm_persistent_bwd_v8_${shape.threads}_${shape.units}_${shape.rows}`;
  }

  getUserCode(): string {
    const { threads, rows, units } = this.shape;
    const qu = pairs(this.shape);
    const qs = range(rows);
    const us = range(units);
    const gates = qu.map(([q, u]) => `
    if (j${u} < H && b0 + ${q} < B) {
      let row = (b0 + ${q}) * T + t;
      let rowPrev = (b0 + ${q}) * T + tp;
      let m = M[row];
      let sb = saveBase + (row * D + d) * 5 * H + j${u};
      let gi = F[sb];
      let gf = F[sb + H];
      let gg = F[sb + 2 * H];
      let go = F[sb + 3 * H];
      let tc = lstmTanh(F[sb + 4 * H]);
      var cPrev = 0.0;
      var hPrev = 0.0;
      if (s > 0) {
        cPrev = F[saveBase + (rowPrev * D + d) * 5 * H + 4 * H + j${u}];
        hPrev = F[rowPrev * D * H + d * H + j${u}];
      }
      let dhTot = dh${q}_${u} + DY[row * D * H + d * H + j${u}];
      let dhNew = m * dhTot;
      let dcIn = m * dc${q}_${u};
      let dcNew = dcIn + dhNew * go * (1.0 - tc * tc);
      let dzi = dcNew * gg * gi * (1.0 - gi);
      let dzf = dcNew * cPrev * gf * (1.0 - gf);
      let dzg = dcNew * gi * (1.0 - gg * gg);
      let dzo = dhNew * tc * go * (1.0 - go);
      dzsh[${q} * HS + j${u}] = vec4<f32>(dzi, dzf, dzg, dzo);
      let zb = row * D * G4 + d * G4 + j${u};
      result[zb] = dzi;
      result[zb + H] = dzf;
      result[zb + 2 * H] = dzg;
      result[zb + 3 * H] = dzo;
      let zdb = dzdBase + (d * BT + row) * G4 + j${u};
      result[zdb] = dzi;
      result[zdb + H] = dzf;
      result[zdb + 2 * H] = dzg;
      result[zdb + 3 * H] = dzo;
      result[hpBase + (d * BT + row) * H + j${u}] = hPrev;
      dh${q}_${u} = dhTot - dhNew;
      dc${q}_${u} = dc${q}_${u} - dcIn + dcNew * gf;
      db${u} += vec4<f32>(dzi, dzf, dzg, dzo);
    } else if (j${u} < H) {
      dzsh[${q} * HS + j${u}] = vec4<f32>(0.0);
    }`).join("");
    // One vec4 of gate gradients per (batch row, n) from workgroup memory, shared by the
    // thread's units; the weights come transposed so that the threads of a workgroup read
    // consecutive vec4s.
    const nLoop = `
    for (var n = 0; n < H; n++) {
      let rb = rBase + n * H;
      ${us.map((u) => `let w${u} = R[rb + jc${u}];`).join("\n      ")}
      ${qs.map((q) => `let z${q} = dzsh[${q} * HS + n];`).join("\n      ")}
      ${qu.map(([q, u]) => `a${q}_${u} += dot(z${q}, w${u});`).join("\n      ")}
    }`;
    return `
${HELPERS}
const RB = ${rows};
const HS = ${units * threads};
// Gate gradients (i, f, g, o) of batch row q, unit n at dzsh[q * HS + n].
var<workgroup> dzsh : array<vec4<f32>, ${rows * units * threads}>;

fn main(index : i32) {${prologue(this.shape, false)}
  let BT = B * T;
  let saveBase = BT * D * H;
  let dzdBase = BT * D * G4;
  let hpBase = 2 * BT * D * G4;
  ${qu.map(([q, u]) => `var dh${q}_${u} = 0.0;\n  var dc${q}_${u} = 0.0;`).join("\n  ")}
  ${us.map((u) => `var db${u} = vec4<f32>(0.0);`).join("\n  ")}
  for (var s = T - 1; s >= 0; s--) {
    let t = select(s, T - 1 - s, d == 1);
    let tp = select(t - 1, t + 1, d == 1);${gates}
    workgroupBarrier();
    ${qu.map(([q, u]) => `var a${q}_${u} = 0.0;`).join("\n    ")}${nLoop}
    ${qu.map(([q, u]) => `dh${q}_${u} += a${q}_${u};`).join("\n    ")}
    workgroupBarrier();
  }
  // This workgroup's share of the bias gradient: dz summed over its rows and all steps.
  let dbBase = hpBase + D * BT * H + (i32(workgroupId.x) * D + d) * G4;
  ${
      us.map((u) =>
        `if (j${u} < H) {
    result[dbBase + j${u}] = db${u}.x;
    result[dbBase + H + j${u}] = db${u}.y;
    result[dbBase + 2 * H + j${u}] = db${u}.z;
    result[dbBase + 3 * H + j${u}] = db${u}.w;
  }`
      ).join("\n  ")
    }
}
`;
  }
}
