/**
 * The WebGPU LSTM layer: a `tf.customGrad` op whose recurrence runs as ONE persistent
 * WebGPU dispatch per layer forward and ONE backward (see `_lstm_programs.ts`); the input
 * projection for all steps and both directions is one matmul, and the weight and input
 * gradients are a few large matmuls (`matMulWebGpu`) that read the backward program's
 * output in place. The number of dispatches does not depend on the number of time steps.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  assertLstmLayerShapes,
  type LstmLayerTensors,
  type LstmOp,
  lstmOpArgs,
  lstmOps,
  runLstmOp,
} from "./lstm_shapes.ts";
import { intUniforms, isWebGpuBackendActive, runProgram } from "./_webgpu_program.ts";
import { matMulWebGpu, type MatrixView } from "./matmul_webgpu.ts";
import { LSTM_MAX_HIDDEN, LstmBackwardProgram, LstmForwardProgram } from "./_lstm_programs.ts";

/** True when the active backend is WebGPU and the fused kernels can run on it. */
export function webgpuLstmAvailable(): boolean {
  return isWebGpuBackendActive();
}

/** The largest hidden size the WebGPU LSTM kernels take. */
export const LSTM_MAX_HIDDEN_WEBGPU: number = LSTM_MAX_HIDDEN;

/** True when {@link lstmLayerWebGpu} runs for this hidden size. */
export function webgpuLstmSupportsHidden(hidden: number): boolean {
  return Number.isInteger(hidden) && hidden >= 1 && hidden <= LSTM_MAX_HIDDEN;
}

// The projection's inner dimension is padded to a multiple of 4 (vec4 loads in
// matMulWebGpu): W's 105 features become 108.
function padColumns(t: tf.Tensor2D, to: number): tf.Tensor2D {
  const extra = to - t.shape[1];
  return extra === 0 ? t : tf.pad(t, [[0, 0], [0, extra]]);
}
function padRows(t: tf.Tensor2D, to: number): tf.Tensor2D {
  const extra = to - t.shape[0];
  return extra === 0 ? t : tf.pad(t, [[0, extra], [0, 0]]);
}

function makeOp(dirs: 1 | 2, inputGradient: boolean): LstmOp {
  // deno-lint-ignore no-explicit-any
  return tf.customGrad((...args: any[]) => {
    const { x, mask, weights: ws, save } = lstmOpArgs(args, dirs);
    const kernels = (dirs === 1 ? [ws[0]] : [ws[0], ws[3]]) as tf.Tensor2D[];
    const r0 = ws[1] as tf.Tensor2D;
    const r1 = (dirs === 1 ? ws[1] : ws[4]) as tf.Tensor2D;
    const biases = (dirs === 1 ? [ws[2]] : [ws[2], ws[5]]) as tf.Tensor1D[];
    const [batch, steps, inSize] = x.shape;
    const hidden = r0.shape[0];
    const bt = batch * steps;
    const inPad = Math.ceil(inSize / 4) * 4;

    const kCat = padRows(dirs === 1 ? kernels[0] : tf.concat(kernels, 1), inPad);
    const bCat = dirs === 1 ? biases[0] : tf.concat(biases, 0);
    const x2 = padColumns(tf.reshape(x, [bt, inSize]), inPad);
    const proj = matMulWebGpu(x2, kCat, { bias: bCat as tf.Tensor1D });
    const uniforms = intUniforms(batch, steps, hidden, dirs);
    // The recurrent weights of every direction, [H, 4H] each, gate-interleaved for vec4
    // loads: viewed as [D, row, gate, col], then permuted so the gate comes last.
    const interleaved = (rs: tf.Tensor[], perm: number[]) =>
      tf.transpose(tf.reshape(tf.stack(rs), [dirs, hidden, 4, hidden]), perm);
    const recurrent = dirs === 1 ? [r0] : [r0, r1];
    const packed = runProgram(
      new LstmForwardProgram(batch, steps, hidden, dirs),
      [proj, mask, interleaved(recurrent, [0, 1, 3, 2])], // R_d[k, g*H + j] at [d, k, j, g]
      uniforms,
    );
    const out = tf.reshape(
      tf.slice(packed, [0], [bt * dirs * hidden]),
      [batch, steps, dirs * hidden],
    ) as tf.Tensor3D;
    save([x2, mask, kCat, r0, r1, packed]);

    const inputGrad = (dz: MatrixView, k: tf.Tensor2D): tf.Tensor => {
      if (!inputGradient) return tf.zeros([batch, steps, inSize]);
      let dx2 = matMulWebGpu(dz, k, { transposeB: true }); // [B*T, inPad]
      if (inPad !== inSize) dx2 = tf.slice(dx2, [0, 0], [bt, inSize]);
      return tf.reshape(dx2, [batch, steps, inSize]);
    };
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [xs, m, k, rf, rb, fwd] = saved;
      const g = runProgram(
        new LstmBackwardProgram(batch, steps, hidden, dirs),
        // Transposed: R_d[j, g*H + n] at [d, n, j, g].
        [dy, fwd, m, interleaved(dirs === 1 ? [rf] : [rf, rb], [0, 3, 1, 2])],
        uniforms,
      );
      const g4 = 4 * hidden;
      const nz = bt * dirs * g4;
      // Views into g, read in place by the matmuls (no copies of its 32 MB regions for W).
      const dz: MatrixView = { tensor: g, offset: 0, shape: [bt, dirs * g4] };
      const dzd: MatrixView = { tensor: g, offset: nz, shape: [dirs, bt, g4] };
      const hp: MatrixView = { tensor: g, offset: 2 * nz, shape: [dirs, bt, hidden] };
      const dR = matMulWebGpu(hp, dzd, { transposeA: true }); // [D, H, 4H]
      let dK = matMulWebGpu(xs, dz, { transposeA: true }); // [inPad, D*4H]
      if (inPad !== inSize) dK = tf.slice(dK, [0, 0], [inSize, dirs * g4]);
      const dbAt = 2 * nz + dirs * bt * hidden;
      const dB = tf.sum(tf.reshape(tf.slice(g, [dbAt], [g.size - dbAt]), [-1, dirs * g4]), 0);
      const grads: tf.Tensor[] = [inputGrad(dz, k as tf.Tensor2D), tf.zerosLike(m)];
      if (dirs === 1) {
        grads.push(dK, tf.reshape(dR, [hidden, g4]), dB);
      } else {
        const [dK0, dK1] = tf.split(dK, 2, 1);
        const [dB0, dB1] = tf.split(dB, 2, 0);
        const [dR0, dR1] = tf.unstack(dR, 0);
        grads.push(dK0, dR0, dB0, dK1, dR1, dB1);
      }
      return grads;
    };
    return { value: out, gradFunc };
  }) as unknown as LstmOp;
}

const OPS = lstmOps(makeOp);

/** Options of {@link lstmLayerWebGpu}. */
export interface LstmWebGpuOptions {
  /**
   * Compute the gradient with respect to `x` (default true). False when `x` is data (the
   * first layer): its gradient is then reported as zeros and one matmul is saved.
   */
  readonly inputGradient?: boolean;
}

/**
 * The WebGPU implementation of an `LstmLayerFn` (see `src/model/lstm_types.ts`), with the
 * option to skip the input gradient of a data-fed layer: one persistent dispatch per layer
 * for the recurrence forward and one backward, the projections and weight gradients as
 * large matmuls. Throws unless the webgpu backend is active and the hidden size is at most
 * {@link LSTM_MAX_HIDDEN_WEBGPU}: the caller chooses the implementation (`src/model/lstm_impl.ts`).
 *
 * @example
 * ```ts
 * await tf.setBackend("webgpu");
 * const out = lstmLayerWebGpu(x, mask, layerWeights); // [B, T, dirs * hidden]
 * ```
 */
export const lstmLayerWebGpu = (
  x: tf.Tensor3D,
  mask: tf.Tensor2D,
  weights: LstmLayerTensors,
  options: LstmWebGpuOptions = {},
): tf.Tensor3D => {
  if (!webgpuLstmAvailable()) {
    throw new Error(
      `Cannot run the WebGPU LSTM layer: the active tfjs backend is ${
        JSON.stringify(tf.getBackend())
      }, expected "webgpu"`,
    );
  }
  const hidden = weights.forward.recurrent.shape[0];
  if (!webgpuLstmSupportsHidden(hidden)) {
    throw new RangeError(
      `Cannot run the WebGPU LSTM layer: hidden size ${hidden} is outside 1..${LSTM_MAX_HIDDEN}`,
    );
  }
  assertLstmLayerShapes(x, mask, weights, "the WebGPU LSTM layer");
  return runLstmOp(OPS, x, mask, weights, options.inputGradient);
};
