/**
 * The generic fused LSTM layer: a `tf.customGrad` op built from a handful of tf ops per
 * time step, with a hand-written backward pass (reverse-time BPTT). Runs on every backend
 * (wasm, cpu, webgpu) and is the default where the WebGPU kernels are not available.
 *
 * Layout inside the op is time-major with the directions stacked: `[T, D, B, ...]`, where
 * "step s" of the backward direction is time `T - 1 - s`. Both directions advance in the
 * same batched matmul each step, so the per-step op count does not double for a BiLSTM.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LstmLayerFn, LstmLayerWeights } from "./lstm_types.ts";

/** Reverses the backward direction (index 1 of axis `dAxis`) along time axis `tAxis`. */
function flipBackward(t: tf.Tensor, dirs: number, tAxis: number, dAxis: number): tf.Tensor {
  if (dirs === 1) return t;
  const [fwd, bwd] = tf.split(t, 2, dAxis);
  return tf.concat([fwd, tf.reverse(bwd, tAxis)], dAxis);
}

function checkShapes(x: tf.Tensor, mask: tf.Tensor, weights: LstmLayerWeights): void {
  if (x.rank !== 3) {
    throw new RangeError(
      `Cannot run the LSTM layer: expected x of rank 3 [batch, steps, inputSize], received shape [${x.shape}]`,
    );
  }
  const [b, t, inSize] = x.shape;
  if (mask.rank !== 2 || mask.shape[0] !== b || mask.shape[1] !== t) {
    throw new RangeError(
      `Cannot run the LSTM layer: expected mask of shape [${b},${t}] to match x [${x.shape}], received [${mask.shape}]`,
    );
  }
  const dirs = weights.backward ? [weights.forward, weights.backward] : [weights.forward];
  const h = weights.forward.recurrent.shape[0];
  for (const d of dirs) {
    const ok = d.kernel.shape[0] === inSize && d.kernel.shape[1] === 4 * h &&
      d.recurrent.shape[0] === h && d.recurrent.shape[1] === 4 * h &&
      d.bias.rank === 1 && d.bias.shape[0] === 4 * h;
    if (!ok) {
      throw new RangeError(
        `Cannot run the LSTM layer: expected kernel [${inSize},${4 * h}], recurrent [${h},${
          4 * h
        }], bias [${
          4 * h
        }], received kernel [${d.kernel.shape}], recurrent [${d.recurrent.shape}], bias [${d.bias.shape}]`,
      );
    }
  }
}

type Op = (
  x: tf.Tensor,
  mask: tf.Tensor,
  ...weights: tf.Tensor[]
) => tf.Tensor;

/**
 * Builds the custom-gradient op for `dirs` directions. Inputs: x, mask, then per direction
 * kernel, recurrent, bias.
 */
function makeOp(dirs: 1 | 2): Op {
  // deno-lint-ignore no-explicit-any
  return tf.customGrad((...args: any[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const x = args[0] as tf.Tensor3D;
    const mask = args[1] as tf.Tensor2D;
    const ws = args.slice(2, 2 + 3 * dirs) as tf.Tensor[];
    const kernels = [ws[0], ws[3]].slice(0, dirs) as tf.Tensor2D[];
    const recurrents = [ws[1], ws[4]].slice(0, dirs) as tf.Tensor2D[];
    const biases = [ws[2], ws[5]].slice(0, dirs) as tf.Tensor1D[];
    const [batch, steps, inSize] = x.shape;
    const hidden = recurrents[0].shape[0];
    const g4 = 4 * hidden;

    // One input projection for all steps and both directions: [B*T, In] x [In, D*4H].
    const kCat = dirs === 1 ? kernels[0] : tf.concat(kernels, 1);
    const bCat = dirs === 1 ? biases[0] : tf.concat(biases, 0);
    const proj = tf.add(tf.matMul(tf.reshape(x, [batch * steps, inSize]), kCat), bCat);
    const projTm = flipBackward(
      tf.transpose(tf.reshape(proj, [batch, steps, dirs, g4]), [1, 2, 0, 3]),
      dirs,
      0,
      1,
    );
    const xs = tf.unstack(projTm, 0) as tf.Tensor3D[]; // T x [D, B, 4H]
    const maskTm = tf.transpose(mask); // [T, B]
    const maskDirs = dirs === 1
      ? tf.expandDims(maskTm, 1)
      : tf.stack([maskTm, tf.reverse(maskTm, 0)], 1); // [T, D, B]
    const ms = tf.unstack(tf.expandDims(maskDirs, 3), 0) as tf.Tensor3D[]; // T x [D, B, 1]
    const rSt = tf.stack(recurrents) as tf.Tensor3D; // [D, H, 4H]

    let h: tf.Tensor3D = tf.zeros([dirs, batch, hidden]);
    let c: tf.Tensor3D = tf.zeros([dirs, batch, hidden]);
    const hs: tf.Tensor3D[] = [];
    const saved: tf.Tensor[] = [];
    for (let s = 0; s < steps; s++) {
      const z = tf.add(xs[s], tf.matMul(h, rSt));
      const [zi, zf, zg, zo] = tf.split(z, 4, 2);
      const i = tf.sigmoid(zi);
      const f = tf.sigmoid(zf);
      const g = tf.tanh(zg);
      const o = tf.sigmoid(zo);
      const cNew = tf.add(tf.mul(f, c), tf.mul(i, g));
      const tc = tf.tanh(cNew);
      const hNew = tf.mul(o, tc);
      const m = ms[s];
      // Hold the state on padded steps: state += m * (new - state).
      const cPrev = c;
      c = tf.add(c, tf.mul(m, tf.sub(cNew, c)));
      h = tf.add(h, tf.mul(m, tf.sub(hNew, h)));
      hs.push(h);
      saved.push(i, f, g, o, tc, cPrev);
    }
    const hsTm = tf.stack(hs) as tf.Tensor4D; // [T, D, B, H], processing order
    const out = tf.reshape(
      tf.transpose(flipBackward(hsTm, dirs, 0, 1), [2, 0, 1, 3]),
      [batch, steps, dirs * hidden],
    ) as tf.Tensor3D;
    save([x, maskDirs, kCat, rSt, hsTm, ...saved]);

    const gradFunc = (dy: tf.Tensor, sv: tf.Tensor[]): tf.Tensor[] => {
      const [x0, mDirs, kCat0, rSt0, hsTm0] = sv;
      const per = sv.slice(5);
      const rT = tf.transpose(rSt0, [0, 2, 1]); // [D, 4H, H]
      const dyTm = flipBackward(
        tf.transpose(tf.reshape(dy, [batch, steps, dirs, hidden]), [1, 2, 0, 3]),
        dirs,
        0,
        1,
      );
      const dys = tf.unstack(dyTm, 0); // T x [D, B, H]
      const mks = tf.unstack(tf.expandDims(mDirs, 3), 0);
      let dh: tf.Tensor = tf.zeros([dirs, batch, hidden]);
      let dc: tf.Tensor = tf.zeros([dirs, batch, hidden]);
      const dzs: tf.Tensor[] = new Array(steps);
      for (let s = steps - 1; s >= 0; s--) {
        const [i, f, g, o, tc, cPrev] = per.slice(6 * s, 6 * s + 6);
        const m = mks[s];
        const dhTot = tf.add(dh, dys[s]);
        const dhNew = tf.mul(m, dhTot);
        const dcIn = tf.mul(m, dc);
        const dtc = tf.mul(dhNew, o);
        const dcNew = tf.add(dcIn, tf.mul(dtc, tf.sub(1, tf.square(tc))));
        const dzi = tf.mul(tf.mul(dcNew, g), tf.mul(i, tf.sub(1, i)));
        const dzf = tf.mul(tf.mul(dcNew, cPrev), tf.mul(f, tf.sub(1, f)));
        const dzg = tf.mul(tf.mul(dcNew, i), tf.sub(1, tf.square(g)));
        const dzo = tf.mul(tf.mul(dhNew, tc), tf.mul(o, tf.sub(1, o)));
        const dz = tf.concat([dzi, dzf, dzg, dzo], 2); // [D, B, 4H]
        dzs[s] = dz;
        // Padded steps pass the carried gradient through unchanged: (1 - m) * carry.
        dh = tf.add(tf.sub(dhTot, dhNew), tf.matMul(dz, rT));
        dc = tf.add(tf.sub(dc, dcIn), tf.mul(dcNew, f));
      }
      const dzTm = tf.stack(dzs) as tf.Tensor4D; // [T, D, B, 4H], processing order
      // Recurrent gradient: sum_s h_{s-1}^T dz_s, as one batched matmul per layer.
      const h0 = tf.zeros([1, dirs, batch, hidden]);
      const hPrev = steps === 1
        ? h0
        : tf.concat([h0, tf.slice(hsTm0, [0, 0, 0, 0], [steps - 1, dirs, batch, hidden])], 0);
      const hPrevT = tf.transpose(
        tf.reshape(tf.transpose(hPrev, [1, 0, 2, 3]), [
          dirs,
          steps * batch,
          hidden,
        ]),
        [0, 2, 1],
      ); // [D, H, T*B]
      const dzDir = tf.reshape(tf.transpose(dzTm, [1, 0, 2, 3]), [dirs, steps * batch, g4]);
      const dR = tf.matMul(hPrevT, dzDir); // [D, H, 4H]
      // Input-side gradients in natural time, batch-major rows: [B*T, D*4H].
      const dzBm = tf.reshape(
        tf.transpose(flipBackward(dzTm, dirs, 0, 1), [2, 0, 1, 3]),
        [batch * steps, dirs * g4],
      );
      const x2 = tf.reshape(x0, [batch * steps, inSize]);
      const dK = tf.matMul(tf.transpose(x2), dzBm); // [In, D*4H]
      const dB = tf.sum(dzBm, 0); // [D*4H]
      const dx = tf.reshape(tf.matMul(dzBm, tf.transpose(kCat0)), [batch, steps, inSize]);
      const grads: tf.Tensor[] = [dx, tf.zeros([batch, steps])];
      const dKs = dirs === 1 ? [dK] : tf.split(dK, 2, 1);
      const dBs = dirs === 1 ? [dB] : tf.split(dB, 2, 0);
      const dRs = tf.unstack(dR, 0);
      for (let d = 0; d < dirs; d++) grads.push(dKs[d], dRs[d], dBs[d]);
      return grads;
    };
    return { value: out, gradFunc };
  }) as unknown as Op;
}

const OP_UNI = makeOp(1);
const OP_BI = makeOp(2);

/**
 * The generic fused LSTM layer ({@link LstmLayerFn}): one batched input projection, a
 * short chain of tf ops per time step (both directions in one batched matmul), and a
 * hand-written reverse-time BPTT backward pass.
 *
 * @example
 * ```ts
 * const out = lstmLayerFused(x, mask, layerWeights); // [B, T, dirs * hidden]
 * ```
 */
export const lstmLayerFused: LstmLayerFn = (x, mask, weights) => {
  checkShapes(x, mask, weights);
  const op = weights.backward ? OP_BI : OP_UNI;
  const w = weights.backward ? [weights.forward, weights.backward] : [weights.forward];
  const flat = w.flatMap((d) => [d.kernel, d.recurrent, d.bias]);
  return op(x, mask, ...flat) as tf.Tensor3D;
};
