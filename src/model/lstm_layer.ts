/**
 * `lstmLayer()`: runs one LSTM layer with the chosen implementation.
 *
 * - `"fused"` (default): the kernel that `chooseLstmKernel()` (`lstm_impl.ts`) picks for the
 *   backend: the WebGPU or CPU kernels of `src/kernels/`, else the generic fused op
 *   ({@link lstmLayerFused}).
 * - `"layers"`: the tf.layers reference (`tf.layers.lstm`, the backward direction with
 *   `goBackwards` and its output reversed in time, as `tf.layers.bidirectional` does),
 *   reading the very same `tf.Variable`s so gradients reach them.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { lstmLayerCpu, lstmLayerWebGpu } from "../kernels/mod.ts";
import { lstmLayerFused } from "./lstm_fused.ts";
import { chooseLstmKernel } from "./lstm_impl.ts";
import type { LstmImpl } from "./model_settings.ts";
import {
  assertLstmLayerShapes,
  type LstmDirectionWeights,
  type LstmLayerFn,
  type LstmLayerWeights,
} from "./lstm_types.ts";

/** Options for {@link lstmLayer}. */
export interface LstmLayerOptions {
  /** Implementation; default `"fused"`. */
  readonly impl?: LstmImpl;
  /**
   * Compute the gradient with respect to `x` (default true). False lets the generic fused
   * op skip it (reported as zeros) when `x` is data, e.g. for the first layer; other
   * implementations compute it anyway.
   */
  readonly inputGradient?: boolean;
}

interface LayerVariableLike {
  val: tf.Variable;
}

interface LstmCellLike {
  kernel: LayerVariableLike;
  recurrentKernel: LayerVariableLike;
  bias: LayerVariableLike;
}

// tf.layers.lstm objects bound to our variables, one per direction's weights. A WeakMap so
// the layer lives exactly as long as the weights it reads (no global registry to reset).
const boundLayers = new WeakMap<LstmDirectionWeights, tf.layers.Layer>();

/**
 * Builds a tf.layers.lstm whose cell reads `w`'s variables. tf.layers keeps its weights in
 * `LayerVariable`s that wrap a `tf.Variable` in a `val` field; the layer is built with
 * zero initialisers (never the slow orthogonal one), then each `val` is swapped for ours.
 */
function boundLayer(w: LstmDirectionWeights, goBackwards: boolean): tf.layers.Layer {
  const known = boundLayers.get(w);
  if (known) return known;
  const hidden = w.recurrent.shape[0];
  const layer = tf.layers.lstm({
    units: hidden,
    returnSequences: true,
    goBackwards,
    activation: "tanh",
    recurrentActivation: "sigmoid", // tf.layers' default is hardSigmoid
    kernelInitializer: "zeros",
    recurrentInitializer: "zeros",
    biasInitializer: "zeros",
    unitForgetBias: false,
  });
  tf.tidy(() => {
    layer.apply(tf.zeros([1, 1, w.kernel.shape[0]]));
  });
  const cell = (layer as unknown as { cell: LstmCellLike }).cell;
  const swap = (lv: LayerVariableLike, v: tf.Variable) => {
    if (lv.val.shape.join() !== v.shape.join()) {
      throw new RangeError(
        `Cannot bind tf.layers.lstm to the weights: expected shape [${lv.val.shape}], received [${v.shape}]`,
      );
    }
    lv.val.dispose();
    lv.val = v;
  };
  swap(cell.kernel, w.kernel);
  swap(cell.recurrentKernel, w.recurrent);
  swap(cell.bias, w.bias);
  boundLayers.set(w, layer);
  return layer;
}

/**
 * The tf.layers reference implementation of {@link LstmLayerFn}. tf.layers' masked RNN
 * holds both the output and the state on masked steps, and with `goBackwards` reverses the
 * mask with the input, which is exactly this project's contract.
 */
export const lstmLayerLayers: LstmLayerFn = (x, mask, weights) =>
  tf.tidy(() => {
    const fwd = boundLayer(weights.forward, false).apply(x, { mask }) as tf.Tensor3D;
    if (!weights.backward) return fwd;
    const bwdRev = boundLayer(weights.backward, true).apply(x, { mask }) as tf.Tensor3D;
    return tf.concat([fwd, tf.reverse(bwdRev, 1)], 2);
  });

/**
 * Runs one LSTM layer ({@link LstmLayerFn} semantics) with the chosen implementation.
 *
 * @example
 * ```ts
 * const out = lstmLayer(x, mask, layerWeights, { impl: "fused" });
 * ```
 */
export function lstmLayer(
  x: tf.Tensor3D,
  mask: tf.Tensor2D,
  weights: LstmLayerWeights,
  options: LstmLayerOptions = {},
): tf.Tensor3D {
  const hidden = weights.forward.recurrent.shape[0];
  const { kernel } = chooseLstmKernel(options.impl ?? "fused", hidden);
  assertLstmLayerShapes(x, mask, weights);
  const inputGradient = options.inputGradient;
  switch (kernel) {
    case "webgpu":
      return lstmLayerWebGpu(x, mask, weights, { inputGradient });
    case "cpu":
      return lstmLayerCpu(x, mask, weights, { inputGradient });
    case "tf-ops":
      return lstmLayerFused(x, mask, weights, { inputGradient });
    case "layers":
      return lstmLayerLayers(x, mask, weights);
  }
}
