/**
 * The CPU LSTM layer: a `tf.customGrad` op whose work runs in the CPU kernels
 * (`_cpu_programs.ts`: WebAssembly SIMD on every core the runtime reports). It reads its
 * inputs from any tfjs backend (on wasm and cpu a read is a copy) and returns ordinary
 * tensors; tfjs only runs what is around it (the head, the loss, the optimizer).
 *
 * Per layer, forward: one GEMM for the input projection of every valid (b, t) row and both
 * directions, then the recurrence, split by (direction, group of batch rows) over the
 * threads. Backward: the recurrence in reverse (gate gradients), then the bias, kernel,
 * recurrent and input gradients as GEMMs over the valid rows. Padded (masked) rows are left
 * out of every product: their projections are never read and their gate gradients are zero.
 * Which thread computes what never changes a result: one thread and many give the same bits.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { JOB, LSTM_ARGS, lstmScratchBytes } from "./_cpu_layout.ts";
import { JobBatch, packedBytes, panelsOf } from "./_cpu_jobs.ts";
import type { CpuRuntime, Region } from "./_cpu_runtime.ts";
import { cpuRuntime } from "./cpu_kernels.ts";
import {
  assertLstmLayerShapes,
  type LstmLayerTensors,
  type LstmOp,
  lstmOpArgs,
  lstmOps,
  runLstmOp,
} from "./lstm_shapes.ts";

/** Options of {@link lstmLayerCpu}. */
export interface LstmCpuOptions {
  /**
   * Compute the gradient with respect to `x` (default true). False when `x` is data (the
   * first layer): its gradient is then reported as zeros and one GEMM is saved.
   */
  readonly inputGradient?: boolean;
}

/** Sizes of one call; `hp` is the hidden size padded to a multiple of 4, `g = 4 hp`. */
interface Dims {
  readonly batch: number;
  readonly steps: number;
  readonly inSize: number;
  readonly hidden: number;
  readonly hp: number;
  readonly g: number;
  readonly dirs: number;
}

/** Regions of one call, freed together. */
class Allocation {
  readonly #regions: Region[] = [];
  constructor(readonly rt: CpuRuntime) {}
  take(bytes: number): Region {
    const r = this.rt.alloc(bytes);
    this.#regions.push(r);
    return r;
  }
  release(): void {
    for (const r of this.#regions.splice(0)) this.rt.free(r);
  }
}

// Frees a forward pass's saved values when its gradient function is dropped unused.
const pending = new FinalizationRegistry<Allocation>((a) => a.release());

/**
 * Internal gate column of external column `col` (gate q, unit u of H) in the padded layout,
 * per direction: q * hp + u.
 */
const internalColumn = (col: number, n: Dims) =>
  Math.floor(col / n.hidden) * n.hp + (col % n.hidden);

/** Index of B(k, n) in the packed layout `[n/8][k][8]` of a matrix with `rows` rows (k). */
const packedAt = (rows: number, k: number, n: number) => ((n >> 3) * rows + k) * 8 + (n & 7);

/** Packed columns of [K, D*G] from per-direction [.., 4H] weights: (direction, column). */
function gateColumns(n: Dims): { dir: Int32Array; col: Int32Array } {
  const width = n.dirs * n.g;
  const dir = new Int32Array(width), col = new Int32Array(width);
  for (let d = 0; d < n.dirs; d++) {
    for (let q = 0; q < 4; q++) {
      for (let u = 0; u < n.hp; u++) {
        const at = d * n.g + q * n.hp + u;
        dir[at] = d;
        col[at] = u < n.hidden ? q * n.hidden + u : -1;
      }
    }
  }
  return { dir, col };
}

/** Row groups: rows by valid steps (longest first), dealt round-robin so groups weigh alike. */
function rowGroups(mask: Float32Array, n: Dims, groups: number): number[][] {
  const len = Array.from({ length: n.batch }, (_, b) => {
    let c = 0;
    for (let t = 0; t < n.steps; t++) if (mask[b * n.steps + t] !== 0) c++;
    return c;
  });
  const order = [...len.keys()].sort((a, b) => len[b] - len[a] || a - b);
  const out = Array.from({ length: groups }, () => [] as number[]);
  order.forEach((b, i) => out[i % groups].push(b));
  return out.filter((g) => g.length > 0);
}

/** Adds the LSTM job (descriptor, items, rows and scratch) to a batch. */
function addLstmJob(
  jobs: JobBatch,
  alloc: Allocation,
  kind: number,
  n: Dims,
  fields: Record<number, number>,
  groups: number[][],
): void {
  const items = n.dirs * groups.length;
  const itemsR = alloc.take(12 * items);
  const rowsR = alloc.take(4 * n.batch);
  const maxRows = Math.max(...groups.map((g) => g.length));
  const scratchBytes = lstmScratchBytes(maxRows, n.hp);
  const scratchR = alloc.take(scratchBytes * items);
  const rt = jobs.rt;
  const rows = rt.i32(rowsR, n.batch);
  const itemWords = rt.i32(itemsR, 3 * items);
  let at = 0;
  const starts: number[] = [];
  for (const g of groups) {
    starts.push(at);
    for (const b of g) rows[at++] = b;
  }
  let i = 0;
  for (let d = 0; d < n.dirs; d++) {
    groups.forEach((g, gi) => {
      itemWords.set([d, starts[gi], starts[gi] + g.length], 3 * i++);
    });
  }
  const w = new Array<number>(LSTM_ARGS.size).fill(0);
  w[0] = kind;
  w[LSTM_ARGS.batch] = n.batch;
  w[LSTM_ARGS.steps] = n.steps;
  w[LSTM_ARGS.hp] = n.hp;
  w[LSTM_ARGS.dirs] = n.dirs;
  w[LSTM_ARGS.items] = itemsR.ptr;
  w[LSTM_ARGS.rows] = rowsR.ptr;
  w[LSTM_ARGS.scratch] = scratchR.ptr;
  w[LSTM_ARGS.scratchBytes] = scratchBytes;
  for (const [k, v] of Object.entries(fields)) w[Number(k)] = v;
  jobs.add(w, items);
}

/** Copies `[rows, dirs*hp]` (padded) into `[rows, dirs*hidden]`. */
function unpadRows(src: Float32Array, rows: number, n: Dims): Float32Array {
  if (n.hp === n.hidden) return src.slice();
  const out = new Float32Array(rows * n.dirs * n.hidden);
  for (let r = 0; r < rows * n.dirs; r++) {
    out.set(src.subarray(r * n.hp, r * n.hp + n.hidden), r * n.hidden);
  }
  return out;
}

function makeOp(dirs: 1 | 2, inputGradient: boolean): LstmOp {
  // deno-lint-ignore no-explicit-any
  return tf.customGrad((...args: any[]) => {
    const { x, mask, weights: ws, save } = lstmOpArgs(args, dirs);
    save(ws);
    const [batch, steps, inSize] = x.shape;
    const hidden = ws[1].shape[0];
    const hp = Math.ceil(hidden / 4) * 4;
    const n: Dims = { batch, steps, inSize, hidden, hp, g: 4 * hp, dirs };
    // Saved values are only needed when a gradient is being recorded.
    const keep = tf.engine().state.gradientDepth > 0;
    const pass = forward(x, mask, ws, n, keep);
    return {
      value: pass.value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => pass.backward(dy, saved, inputGradient),
    };
  }) as unknown as LstmOp;
}

interface ForwardPass {
  readonly value: tf.Tensor3D;
  backward(dy: tf.Tensor, saved: tf.Tensor[], inputGradient: boolean): tf.Tensor[];
}

function forward(
  x: tf.Tensor3D,
  mask: tf.Tensor2D,
  ws: tf.Tensor[],
  n: Dims,
  keep: boolean,
): ForwardPass {
  const rt = cpuRuntime();
  const { batch: B, steps: T, inSize: In, hp: Hp, g: G, dirs: D } = n;
  const BT = B * T, DG = D * G;
  const m = mask.dataSync() as Float32Array;
  const rowOf = new Int32Array(BT);
  let R = 0;
  for (let r = 0; r < BT; r++) rowOf[r] = m[r] !== 0 ? R++ : -1;
  const Rm = Math.max(R, 1);
  // Groups of about 12 rows (two GEMM tiles), and at least two items per thread.
  const groups = rowGroups(m, n, Math.max(Math.ceil((2 * rt.threads) / D), Math.ceil(B / 12)));

  // Kept until the backward pass (or freed now when no gradient is recorded).
  const saved = new Allocation(rt);
  const temp = new Allocation(rt);
  const maskR = saved.take(4 * BT), rowOfR = saved.take(4 * BT);
  const xRowsR = saved.take(4 * Rm * In);
  const per = (a: Allocation, bytes: number) => Array.from({ length: D }, () => a.take(bytes));
  const hPrevR = keep ? per(saved, 4 * Rm * Hp) : [];
  const gatesR = keep ? per(saved, 4 * T * B * G) : [];
  const tanhCR = keep ? per(saved, 4 * T * B * Hp) : [];
  const cPrevR = keep ? per(saved, 4 * T * B * Hp) : [];
  const kpR = temp.take(packedBytes(In, DG)), biasR = temp.take(4 * DG);
  const recR = per(temp, packedBytes(Hp, G));
  const projR = temp.take(4 * Rm * DG), outR = temp.take(4 * BT * D * Hp);
  const hR = per(temp, 4 * B * Hp), cR = per(temp, 4 * B * Hp);

  // Every allocation is done: views stay valid from here on.
  rt.f32(maskR, BT).set(m);
  rt.i32(rowOfR, BT).set(rowOf);
  const xs = x.dataSync() as Float32Array;
  const xRows = rt.f32(xRowsR, R * In);
  for (let r = 0; r < BT; r++) {
    if (rowOf[r] >= 0) xRows.set(xs.subarray(r * In, (r + 1) * In), rowOf[r] * In);
  }
  const kernels = Array.from({ length: D }, (_, d) => ws[3 * d].dataSync() as Float32Array);
  const recs = Array.from({ length: D }, (_, d) => ws[3 * d + 1].dataSync() as Float32Array);
  const biases = Array.from({ length: D }, (_, d) => ws[3 * d + 2].dataSync() as Float32Array);
  const cols = gateColumns(n);
  const H4 = 4 * n.hidden;
  // Input weights of both directions side by side, [In, D*G], packed.
  const kp = rt.f32(kpR).fill(0);
  const bias = rt.f32(biasR, DG);
  for (let c = 0; c < DG; c++) {
    const src = cols.col[c];
    bias[c] = src >= 0 ? biases[cols.dir[c]][src] : 0;
    if (src < 0) continue;
    const kd = kernels[cols.dir[c]];
    for (let k = 0; k < In; k++) kp[packedAt(In, k, c)] = kd[k * H4 + src];
  }
  // Recurrent weights per direction, [Hp, G], packed (rows past H stay zero).
  for (let d = 0; d < D; d++) {
    const rp = rt.f32(recR[d]).fill(0);
    for (let c = 0; c < G; c++) {
      const src = cols.col[c];
      if (src >= 0) {
        for (let k = 0; k < n.hidden; k++) rp[packedAt(Hp, k, c)] = recs[d][k * H4 + src];
      }
    }
  }

  const jobs = new JobBatch(rt);
  jobs.gemm({
    a: xRowsR.ptr,
    sa: 4 * In,
    sk: 4,
    bp: kpR.ptr,
    k: In,
    c: projR.ptr,
    ldc: 4 * DG,
    m: R,
    panels: DG / 8,
    init: 2,
    bias: biasR.ptr,
  }).run();
  const pair = (rs: Region[]) => ({ 0: rs[0]?.ptr ?? 0, 1: rs[1]?.ptr ?? 0 });
  const fields: Record<number, number> = {
    [LSTM_ARGS.mask]: maskR.ptr,
    [LSTM_ARGS.rowOf]: rowOfR.ptr,
    [LSTM_ARGS.input]: projR.ptr,
    [LSTM_ARGS.save]: keep ? 1 : 0,
    [LSTM_ARGS.output]: outR.ptr,
  };
  const setPair = (w: number, rs: Region[]) => {
    const p = pair(rs);
    fields[w] = p[0];
    fields[w + 1] = p[1];
  };
  setPair(LSTM_ARGS.weights, recR);
  setPair(LSTM_ARGS.state, hR);
  setPair(LSTM_ARGS.cell, cR);
  setPair(LSTM_ARGS.gates, gatesR);
  setPair(LSTM_ARGS.tanhC, tanhCR);
  setPair(LSTM_ARGS.cPrev, cPrevR);
  setPair(LSTM_ARGS.hPrev, hPrevR);
  addLstmJob(jobs, temp, JOB.LSTM_FWD, n, fields, groups);
  jobs.run();
  const value = tf.tensor3d(unpadRows(rt.f32(outR, BT * D * Hp), BT, n), [B, T, D * n.hidden]);
  temp.release();

  let used = false;
  const backward = (dy: tf.Tensor, ws2: tf.Tensor[], inputGradient: boolean): tf.Tensor[] => {
    if (used) throw new Error("Cannot run the CPU LSTM backward pass twice for one forward pass");
    used = true;
    pending.unregister(backward);
    try {
      return backwardPass(rt, n, R, groups, ws2, dy, inputGradient, {
        maskR,
        rowOfR,
        xRowsR,
        hPrevR,
        gatesR,
        tanhCR,
        cPrevR,
      });
    } finally {
      saved.release();
    }
  };
  if (keep) pending.register(backward, saved, backward);
  else saved.release();
  return { value, backward };
}

interface SavedRegions {
  readonly maskR: Region;
  readonly rowOfR: Region;
  readonly xRowsR: Region;
  readonly hPrevR: Region[];
  readonly gatesR: Region[];
  readonly tanhCR: Region[];
  readonly cPrevR: Region[];
}

function backwardPass(
  rt: CpuRuntime,
  n: Dims,
  R: number,
  groups: number[][],
  ws: tf.Tensor[],
  dy: tf.Tensor,
  inputGradient: boolean,
  s: SavedRegions,
): tf.Tensor[] {
  if (s.gatesR.length === 0) {
    throw new Error(
      "Cannot run the CPU LSTM backward pass: the forward pass ran while no gradient was " +
        "being recorded, so it kept nothing",
    );
  }
  const { batch: B, steps: T, inSize: In, hidden: H, hp: Hp, g: G, dirs: D } = n;
  const BT = B * T, DG = D * G, H4 = 4 * H, Rm = Math.max(R, 1);
  const inPanels = panelsOf(In);
  const a = new Allocation(rt);
  try {
    const dyR = a.take(4 * BT * D * Hp);
    const recTR = Array.from({ length: D }, () => a.take(packedBytes(G, Hp)));
    const dhR = Array.from({ length: D }, () => a.take(4 * B * Hp));
    const dcR = Array.from({ length: D }, () => a.take(4 * B * Hp));
    const dzR = a.take(4 * Rm * DG), dbR = a.take(4 * DG), onesR = a.take(4 * Rm);
    const dzpR = Array.from({ length: D }, () => a.take(packedBytes(Rm, G)));
    // x and h_prev transposed, [In, R] and [Hp, R]: the weight gradients read them as rows.
    const xTR = a.take(4 * In * Rm);
    const hTR = Array.from({ length: D }, () => a.take(4 * Hp * Rm));
    const dKR = Array.from({ length: D }, () => a.take(4 * In * G));
    const dRR = Array.from({ length: D }, () => a.take(4 * Hp * G));
    const ktR = inputGradient ? a.take(packedBytes(DG, In)) : null;
    const dxR = inputGradient ? a.take(4 * Rm * inPanels * 8) : null;
    // Views from here on.
    const dys = dy.dataSync() as Float32Array;
    const dyP = rt.f32(dyR, BT * D * Hp);
    if (Hp === H) dyP.set(dys);
    else {
      dyP.fill(0);
      for (let r = 0; r < BT * D; r++) dyP.set(dys.subarray(r * H, (r + 1) * H), r * Hp);
    }
    const kernels = Array.from({ length: D }, (_, d) => ws[3 * d].dataSync() as Float32Array);
    const recs = Array.from({ length: D }, (_, d) => ws[3 * d + 1].dataSync() as Float32Array);
    // R^T packed per direction: B(k = gate column, n = unit) = R[unit, column].
    const cols = gateColumns(n);
    for (let d = 0; d < D; d++) {
      const rt2 = rt.f32(recTR[d]).fill(0);
      for (let k = 0; k < G; k++) {
        const src = cols.col[k];
        if (src >= 0) {
          for (let u = 0; u < H; u++) rt2[packedAt(G, k, u)] = recs[d][u * H4 + src];
        }
      }
    }
    rt.f32(onesR, Rm).fill(1);
    const fields: Record<number, number> = {
      [LSTM_ARGS.mask]: s.maskR.ptr,
      [LSTM_ARGS.rowOf]: s.rowOfR.ptr,
      [LSTM_ARGS.input]: dyR.ptr,
      [LSTM_ARGS.output]: dzR.ptr,
      [LSTM_ARGS.matmulRows]: R,
    };
    for (let d = 0; d < D; d++) {
      fields[LSTM_ARGS.weights + d] = recTR[d].ptr;
      fields[LSTM_ARGS.state + d] = dhR[d].ptr;
      fields[LSTM_ARGS.cell + d] = dcR[d].ptr;
      fields[LSTM_ARGS.gates + d] = s.gatesR[d].ptr;
      fields[LSTM_ARGS.tanhC + d] = s.tanhCR[d].ptr;
      fields[LSTM_ARGS.cPrev + d] = s.cPrevR[d].ptr;
      fields[LSTM_ARGS.packed + d] = dzpR[d].ptr;
    }
    // The recurrence, which also writes dz packed for the weight gradients, and the
    // transposes of x and h those read as rows, behind one barrier.
    const jobs = new JobBatch(rt);
    addLstmJob(jobs, a, JOB.LSTM_BWD, n, fields, groups);
    jobs.transpose({
      src: s.xRowsR.ptr,
      ld: 4 * In,
      rows: R,
      cols: In,
      dst: xTR.ptr,
      ldDst: 4 * R,
    });
    for (let d = 0; d < D; d++) {
      jobs.transpose({
        src: s.hPrevR[d].ptr,
        ld: 4 * Hp,
        rows: R,
        cols: H,
        dst: hTR[d].ptr,
        ldDst: 4 * R,
      });
    }
    jobs.run();
    // Then every gradient product: kernel, recurrent, bias (ones · dz) and input.
    for (let d = 0; d < D; d++) {
      const common = { bp: dzpR[d].ptr, k: R, ldc: 4 * G, panels: G / 8, init: 0 as const };
      jobs.gemm({ ...common, a: xTR.ptr, sa: 4 * R, sk: 4, c: dKR[d].ptr, m: In });
      jobs.gemm({ ...common, a: hTR[d].ptr, sa: 4 * R, sk: 4, c: dRR[d].ptr, m: H });
      jobs.gemm({ ...common, a: onesR.ptr, sa: 4 * R, sk: 4, c: dbR.ptr + 4 * d * G, m: 1 });
    }
    let dx: tf.Tensor;
    if (ktR && dxR) {
      // K^T packed: B(k = gate column of any direction, n = input feature).
      const kt = rt.f32(ktR).fill(0);
      for (let k = 0; k < DG; k++) {
        const c = cols.col[k];
        if (c < 0) continue;
        const kd = kernels[cols.dir[k]];
        for (let i = 0; i < In; i++) kt[packedAt(DG, k, i)] = kd[i * H4 + c];
      }
      jobs.gemm({
        a: dzR.ptr,
        sa: 4 * DG,
        sk: 4,
        bp: ktR.ptr,
        k: DG,
        c: dxR.ptr,
        ldc: 32 * inPanels,
        m: R,
        panels: inPanels,
        init: 0,
      });
    }
    jobs.run();
    if (dxR) {
      const dxRows = rt.f32(dxR, Rm * inPanels * 8);
      const rowOf = rt.i32(s.rowOfR, BT);
      const out = new Float32Array(BT * In);
      for (let r = 0; r < BT; r++) {
        const from = rowOf[r];
        if (from >= 0) {
          out.set(dxRows.subarray(from * inPanels * 8, from * inPanels * 8 + In), r * In);
        }
      }
      dx = tf.tensor3d(out, [B, T, In]);
    } else {
      dx = tf.zeros([B, T, In]);
    }
    const grads: tf.Tensor[] = [dx, tf.zeros([B, T])];
    const db = rt.f32(dbR, DG);
    for (let d = 0; d < D; d++) {
      const dK = rt.f32(dKR[d], In * G), dR = rt.f32(dRR[d], Hp * G);
      const k = new Float32Array(In * H4), rr = new Float32Array(H * H4), b = new Float32Array(H4);
      for (let c = 0; c < H4; c++) {
        const ic = internalColumn(c, n);
        for (let i = 0; i < In; i++) k[i * H4 + c] = dK[i * G + ic];
        for (let j = 0; j < H; j++) rr[j * H4 + c] = dR[j * G + ic];
        b[c] = db[d * G + ic];
      }
      grads.push(tf.tensor2d(k, [In, H4]), tf.tensor2d(rr, [H, H4]), tf.tensor1d(b));
    }
    return grads;
  } finally {
    a.release();
  }
}

const OPS = lstmOps(makeOp);

/**
 * The CPU implementation of an `LstmLayerFn` (see `src/model/lstm_types.ts`), with the
 * option to skip the input gradient of a data-fed layer. Runs on any tfjs backend; meant for
 * wasm and cpu, where reading a tensor is a copy.
 *
 * @example
 * ```ts
 * const out = lstmLayerCpu(x, mask, layerWeights); // [B, T, dirs * hidden]
 * ```
 */
export function lstmLayerCpu(
  x: tf.Tensor3D,
  mask: tf.Tensor2D,
  weights: LstmLayerTensors,
  options: LstmCpuOptions = {},
): tf.Tensor3D {
  assertLstmLayerShapes(x, mask, weights, "the CPU LSTM layer");
  return runLstmOp(OPS, x, mask, weights, options.inputGradient);
}
