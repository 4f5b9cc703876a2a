/**
 * The generic fused LSTM layer: a `tf.customGrad` op built from a handful of tf ops per
 * time step, with a hand-written backward pass (reverse-time BPTT). Runs on every backend;
 * `chooseLstmKernel()` picks it where neither the WebGPU nor the CPU kernels of
 * `src/kernels/` apply (webgpu with a hidden size above 256, an engine without WebAssembly
 * SIMD).
 *
 * Design (first measured on tfjs-backend-wasm):
 * - One input projection for all steps and both directions: [B*T, In] x [In, D*4H].
 * - Per step and direction, one untransposed 2-D matmul [B, H] x [H, 4H]: wasm hands only
 *   those to XNNPACK (batched or transposed operands fall to a scalar loop, ~10x slower;
 *   a block-diagonal [B, 2H] x [2H, 8H] matmul for both directions measured ~2x slower
 *   than two per-direction ones). State is direction-major, [D, B, H], so each
 *   direction's rows are contiguous; gates and the masked update run on both at once.
 * - "Processing step" s of the forward direction is time s, of the backward direction time
 *   T-1-s. Moving big tensors between time order and per-step pieces ("layout") is built
 *   from device ops (transpose, gather, unstack).
 * - Backward: per-step gate gradients in reverse order, then the kernel, recurrent, bias
 *   and input gradients as a few large untransposed matmuls over all steps.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type LstmOp, lstmOpArgs, lstmOps, runLstmOp } from "../kernels/mod.ts";
import { assertLstmLayerShapes, type LstmLayerWeights } from "./lstm_types.ts";

/** Sizes of one call. */
interface Dims {
  readonly batch: number;
  readonly steps: number;
  readonly dirs: number;
  readonly hidden: number;
  readonly inSize: number;
}

/**
 * Moves tensors between natural layout ([B, T, ...], rows (b, t)) and per-step pieces in
 * processing order ([D, B, W] for step s, direction d read at time `d ? T-1-s : s`).
 */
interface Layout {
  /** [B*T, D*W] natural rows -> T pieces [D, B, W], processing order. */
  toSteps(t: tf.Tensor2D, width: number): tf.Tensor3D[];
  /** T pieces [D, B, W] (processing order) -> [B*T, D*W] natural rows. */
  fromSteps(pieces: tf.Tensor[], width: number): tf.Tensor2D;
  /** T pieces [D, B, W] -> per direction [W, B*T], transposed. */
  fromStepsPerDirT(pieces: tf.Tensor[], width: number): tf.Tensor2D[];
  /** Per direction [B*T, W]: the state before each row was read (h_{s-1}; 0 at s=0). */
  prevStates(hs: tf.Tensor[], width: number): tf.Tensor2D[];
  /** Mask [B, T] -> T pieces [D, B, 1], processing order. */
  stepMasks(): tf.Tensor3D[];
}

/** The layout from device ops: transposes, a row gather for the time flip, unstack. */
function deviceLayout(n: Dims, mask: tf.Tensor2D): Layout {
  const { batch: B, steps: T, dirs: D } = n;
  let flipIdx: tf.Tensor1D | null = null;
  // [D, T, B, W] -> the same with direction 1 reversed in time.
  const flip = (t: tf.Tensor4D): tf.Tensor4D => {
    if (D === 1) return t;
    if (!flipIdx) {
      const idx = new Int32Array(2 * T);
      for (let s = 0; s < T; s++) [idx[s], idx[T + s]] = [s, 2 * T - 1 - s];
      flipIdx = tf.tensor1d(idx, "int32");
    }
    const [, , b, w] = t.shape;
    return tf.reshape(tf.gather(tf.reshape(t, [D * T, b * w]), flipIdx), [D, T, b, w]);
  };
  // T pieces [D, B, W], processing order -> [D, T, B, W] natural time.
  const natural = (pieces: tf.Tensor[], w: number) =>
    flip(tf.transpose(tf.reshape(tf.stack(pieces), [T, D, B, w]), [1, 0, 2, 3]));
  return {
    toSteps(t, w) {
      const dtb = flip(tf.transpose(tf.reshape(t, [B, T, D, w]), [2, 1, 0, 3]));
      return tf.unstack(tf.transpose(dtb, [1, 0, 2, 3])) as tf.Tensor3D[];
    },
    fromSteps(pieces, w) {
      return tf.reshape(tf.transpose(natural(pieces, w), [2, 1, 0, 3]), [B * T, D * w]);
    },
    fromStepsPerDirT(pieces, w) {
      const dwbt = tf.transpose(natural(pieces, w), [0, 3, 2, 1]); // [D, W, B, T]
      return tf.unstack(dwbt).map((t) => tf.reshape(t, [w, B * T]));
    },
    prevStates(hs, w) {
      const prev = [tf.zerosLike(hs[0]), ...hs.slice(0, T - 1)];
      const dbt = tf.transpose(natural(prev, w), [0, 2, 1, 3]); // [D, B, T, W]
      return tf.unstack(dbt).map((t) => tf.reshape(t, [B * T, w]));
    },
    stepMasks() {
      const tm = tf.transpose(mask); // [T, B]
      const dirsTm = D === 1 ? tf.expandDims(tm, 1) : tf.stack([tm, tf.reverse(tm, 0)], 1);
      return tf.unstack(tf.expandDims(dirsTm, 3)) as tf.Tensor3D[]; // T x [D, B, 1]
    },
  };
}

/** Per-step values saved for backward, in this order. */
const PER_STEP = 7; // i, f, g, o, tanh(c_new), c_prev, h

/**
 * Builds the custom-gradient op for `dirs` directions. Inputs: x, mask, then per direction
 * kernel, recurrent, bias.
 */
function makeOp(dirs: 1 | 2, inputGradient: boolean): LstmOp {
  // deno-lint-ignore no-explicit-any
  return tf.customGrad((...args: any[]) => {
    const { x, mask, save, ...rest } = lstmOpArgs(args, dirs);
    const ws = rest.weights as tf.Tensor2D[];
    const kernels = [ws[0], ws[3]].slice(0, dirs);
    const recurrents = [ws[1], ws[4]].slice(0, dirs);
    const biases = [ws[2], ws[5]].slice(0, dirs) as tf.Tensor[] as tf.Tensor1D[];
    const [batch, steps, inSize] = x.shape;
    const hidden = recurrents[0].shape[0];
    const g4 = 4 * hidden;
    const n: Dims = { batch, steps, dirs, hidden, inSize };
    // A fresh layout per pass: the device layout caches an index tensor that the forward
    // pass's scope disposes.
    const makeLayout = (m: tf.Tensor2D) => deviceLayout(n, m);
    const layout = makeLayout(mask);

    const kCat = dirs === 1 ? kernels[0] : tf.concat(kernels, 1); // [In, D*4H]
    const bCat = dirs === 1 ? biases[0] : tf.concat(biases, 0);
    const x2 = tf.reshape(x, [batch * steps, inSize]) as tf.Tensor2D; // rows (b, t)
    // tanh(z) = 2 sigmoid(2z) - 1: tfjs-wasm's tanh is a scalar loop (~8x slower than its
    // SIMD sigmoid), so the forward pass computes the g-gate pre-activation doubled (its
    // weight columns scaled by 2) and runs ONE sigmoid over all four gates. The backward
    // pass works with the unscaled pre-activations and weights, so the gradients are exact.
    const gateScale = tf.tile(
      tf.concat([tf.ones([2 * hidden]), tf.fill([hidden], 2), tf.ones([hidden])]),
      [dirs],
    );
    // (x k + b) * scale == x (k * scale) + b * scale exactly: the scale is a power of two.
    const proj = tf.add(tf.matMul(x2, tf.mul(kCat, gateScale)), tf.mul(bCat, gateScale));
    const xs = layout.toSteps(proj as tf.Tensor2D, g4);
    proj.dispose();
    const ms = layout.stepMasks();
    // h [D, B, H] x per-direction recurrent [H, 4H] -> [D, B, 4H].
    const recur = (h: tf.Tensor, w: tf.Tensor[], out: number): tf.Tensor => {
      if (dirs === 1) {
        return tf.reshape(tf.matMul(tf.reshape(h, [batch, -1]), w[0]), [1, batch, out]);
      }
      const parts = tf.unstack(h);
      return tf.stack([tf.matMul(parts[0], w[0]), tf.matMul(parts[1], w[1])]);
    };

    const recurrentsScaled = recurrents.map((r) => tf.mul(r, gateScale.slice(0, g4)));
    let h: tf.Tensor = tf.zeros([dirs, batch, hidden]);
    let c: tf.Tensor = tf.zeros([dirs, batch, hidden]);
    const saved: tf.Tensor[] = [];
    const hs: tf.Tensor[] = [];
    for (let s = 0; s < steps; s++) {
      const z = tf.add(xs[s], recur(h, recurrentsScaled, g4)); // [D, B, 4H], g doubled
      const [i, f, g2, o] = tf.split(tf.sigmoid(z), 4, 2);
      const g = tf.sub(tf.mul(g2, 2), 1);
      const cNew = tf.add(tf.mul(f, c), tf.mul(i, g));
      const tc = tf.sub(tf.mul(tf.sigmoid(tf.mul(cNew, 2)), 2), 1); // tanh(cNew)
      const hNew = tf.mul(o, tc);
      const m = ms[s];
      // Hold the state on padded steps: state += m * (new - state).
      const cPrev = c;
      c = tf.add(c, tf.mul(m, tf.sub(cNew, c)));
      h = tf.add(h, tf.mul(m, tf.sub(hNew, h)));
      hs.push(h);
      saved.push(i, f, g, o, tc, cPrev, h);
    }
    const out = tf.reshape(layout.fromSteps(hs, hidden), [batch, steps, dirs * hidden]);
    save([x2, mask, kCat, ...recurrents, ...saved]);

    const gradFunc = (dy: tf.Tensor, sv: tf.Tensor[]): tf.Tensor[] => {
      const [x0, mask0, kCat0] = sv;
      const rTs = sv.slice(3, 3 + dirs).map((r) => tf.transpose(r)); // [4H, H], pre-transposed
      const per = sv.slice(3 + dirs);
      const hs0 = Array.from({ length: steps }, (_, s) => per[PER_STEP * s + 6]);
      const layout = makeLayout(mask0 as tf.Tensor2D);
      const dys = layout.toSteps(tf.reshape(dy, [batch * steps, dirs * hidden]), hidden);
      const msB = layout.stepMasks();
      let dh: tf.Tensor = tf.zeros([dirs, batch, hidden]);
      let dc: tf.Tensor = tf.zeros([dirs, batch, hidden]);
      const dzs: tf.Tensor[] = new Array(steps);
      for (let s = steps - 1; s >= 0; s--) {
        const [i, f, g, o, tc, cPrev] = per.slice(PER_STEP * s, PER_STEP * s + 6);
        const m = msB[s];
        const dhTot = tf.add(dh, dys[s]);
        const dhNew = tf.mul(m, dhTot);
        const dcIn = tf.mul(m, dc);
        const dcNew = tf.add(dcIn, tf.mul(tf.mul(dhNew, o), tf.sub(1, tf.square(tc))));
        const dzi = tf.mul(tf.mul(dcNew, g), tf.mul(i, tf.sub(1, i)));
        const dzf = tf.mul(tf.mul(dcNew, cPrev), tf.mul(f, tf.sub(1, f)));
        const dzg = tf.mul(tf.mul(dcNew, i), tf.sub(1, tf.square(g)));
        const dzo = tf.mul(tf.mul(dhNew, tc), tf.mul(o, tf.sub(1, o)));
        const dz = tf.concat([dzi, dzf, dzg, dzo], 2); // [D, B, 4H]
        dzs[s] = dz;
        // Padded steps pass the carried gradient through unchanged: (1 - m) * carry.
        dh = tf.add(tf.sub(dhTot, dhNew), recur(dz, rTs, hidden));
        dc = tf.add(tf.sub(dc, dcIn), tf.mul(dcNew, f));
      }
      // Sums over the B*T rows as matmuls whose long axis is the inner dimension of the
      // left operand: tfjs-wasm packs the right operand per call, and [4H, R] x [R, n]
      // measured 2x faster than [n, R] x [R, 4H].
      const dzT = layout.fromStepsPerDirT(dzs, g4); // per direction [4H, B*T]
      const hPrev = layout.prevStates(hs0, hidden); // per direction [B*T, H]
      const ones = tf.ones([x0.shape[0], 1]);
      const grads: tf.Tensor[] = [];
      for (let d = 0; d < dirs; d++) {
        grads.push(
          tf.transpose(tf.matMul(dzT[d], x0)), // kernel [In, 4H]
          tf.transpose(tf.matMul(dzT[d], hPrev[d])), // recurrent [H, 4H]
          tf.reshape(tf.matMul(dzT[d], ones), [g4]), // bias [4H]
        );
      }
      // Input gradient for both directions in one matmul: [B*T, D*4H] x [D*4H, In].
      const dx = inputGradient
        ? tf.reshape(
          tf.matMul(layout.fromSteps(dzs, g4), tf.transpose(kCat0)),
          [batch, steps, inSize],
        )
        : tf.zeros([batch, steps, inSize]);
      return [dx, tf.zeros([batch, steps]), ...grads];
    };
    return { value: out, gradFunc };
  }) as unknown as LstmOp;
}

const OPS = lstmOps(makeOp);

/** Options for {@link lstmLayerFused}. */
export interface LstmFusedOptions {
  /**
   * Compute the gradient with respect to `x` (default true). Pass false only when `x` is
   * data that nothing differentiates (the first layer): its gradient is then reported as
   * zeros, which saves a [B*T, D*4H] x [D*4H, In] matmul and a layout pass per step.
   */
  readonly inputGradient?: boolean;
}

/**
 * The generic fused LSTM layer (an `LstmLayerFn`, plus options): one batched input projection, a
 * short chain of tf ops per time step (both directions in one matmul), and a hand-written
 * reverse-time BPTT backward pass.
 *
 * @example
 * ```ts
 * const out = lstmLayerFused(x, mask, layerWeights); // [B, T, dirs * hidden]
 * ```
 */
export const lstmLayerFused = (
  x: tf.Tensor3D,
  mask: tf.Tensor2D,
  weights: LstmLayerWeights,
  options: LstmFusedOptions = {},
): tf.Tensor3D => {
  assertLstmLayerShapes(x, mask, weights);
  return runLstmOp(OPS, x, mask, weights, options.inputGradient);
};
