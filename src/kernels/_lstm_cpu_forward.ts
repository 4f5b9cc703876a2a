/**
 * The forward pass of the CPU LSTM op: the mask's valid rows, the weights packed, the
 * input projection (one GEMM) and the recurrence, and the values the backward pass needs,
 * kept until it runs or its gradient function is dropped.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { JOB, LSTM_ARGS } from "./_cpu_layout.ts";
import { JobBatch, packedBytes } from "./_cpu_jobs.ts";
import type { Region } from "./_cpu_runtime.ts";
import { cpuRuntime } from "./cpu_kernels.ts";
import { addLstmJob, Allocation, type Dims, gateColumns, packedAt } from "./_lstm_cpu_layout.ts";
import { backwardPass } from "./_lstm_cpu_backward.ts";

// Frees a forward pass's saved values when its gradient function is dropped unused.
const pending = new FinalizationRegistry<Allocation>((a) => a.release());

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

/** Copies `[rows, dirs*hp]` (padded) into `[rows, dirs*hidden]`. */
function unpadRows(src: Float32Array, rows: number, n: Dims): Float32Array {
  if (n.hp === n.hidden) return src.slice();
  const out = new Float32Array(rows * n.dirs * n.hidden);
  for (let r = 0; r < rows * n.dirs; r++) {
    out.set(src.subarray(r * n.hp, r * n.hp + n.hidden), r * n.hidden);
  }
  return out;
}

export interface ForwardPass {
  readonly value: tf.Tensor3D;
  backward(dy: tf.Tensor, saved: tf.Tensor[], inputGradient: boolean): tf.Tensor[];
}

/**
 * Runs the forward pass of one call; `keep`: save what `backward` (once) needs.
 */
export function forward(
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
