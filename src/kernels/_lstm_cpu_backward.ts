/**
 * The backward pass of the CPU LSTM op: BPTT over the saved values (gate gradients, dz
 * packed) and the transposes of x and h behind one barrier, then the kernel, recurrent,
 * bias and input gradients as GEMMs, unpadded into tfjs tensors.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { JOB, LSTM_ARGS } from "./_cpu_layout.ts";
import { JobBatch, packedBytes, panelsOf } from "./_cpu_jobs.ts";
import type { CpuRuntime, Region } from "./_cpu_runtime.ts";
import { addLstmJob, Allocation, type Dims, gateColumns, packedAt } from "./_lstm_cpu_layout.ts";

/**
 * Internal gate column of external column `col` (gate q, unit u of H) in the padded layout,
 * per direction: q * hp + u.
 */
const internalColumn = (col: number, n: Dims) =>
  Math.floor(col / n.hidden) * n.hp + (col % n.hidden);

/** What the forward pass kept for the backward pass. */
export interface SavedRegions {
  readonly maskR: Region;
  readonly rowOfR: Region;
  readonly xRowsR: Region;
  readonly hPrevR: Region[];
  readonly gatesR: Region[];
  readonly tanhCR: Region[];
  readonly cPrevR: Region[];
}

/**
 * The backward pass of one call: the gradients of x (zeros without `inputGradient`), of the
 * mask (zeros) and of each direction's kernel, recurrent weights and bias.
 */
export function backwardPass(
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
