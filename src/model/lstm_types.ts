/**
 * The contract every LSTM layer implementation honours (tf.layers reference, the generic
 * fused op built from tf ops, and the WebGPU and CPU kernels in `src/kernels/`, which take
 * the same weights as `LstmLayerTensors`).
 *
 * Gate order is i, f, g, o: the same in Keras/tfjs (i, f, c, o) and PyTorch (i, f, g, o).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/** One direction of one layer. */
export interface LstmDirectionWeights {
  /** Input weights, shape [inputSize, 4 * hidden]. (PyTorch `weight_ih` is its transpose.) */
  readonly kernel: tf.Variable;
  /** Recurrent weights, shape [hidden, 4 * hidden]. (PyTorch `weight_hh` is its transpose.) */
  readonly recurrent: tf.Variable;
  /** Bias, shape [4 * hidden]. (PyTorch splits it into `bias_ih` + `bias_hh`.) */
  readonly bias: tf.Variable;
}

/** One layer: a forward direction and, when bidirectional, a backward one. */
export interface LstmLayerWeights {
  readonly forward: LstmDirectionWeights;
  readonly backward?: LstmDirectionWeights;
}

/**
 * Runs one LSTM layer over pre-padded windows.
 *
 * - `x`: [batch, steps, inputSize] float32.
 * - `mask`: [batch, steps] float32, 1 on valid steps, 0 on padding (padding comes first).
 * - returns [batch, steps, dirs * hidden]: forward outputs then backward outputs. On a
 *   padded step each direction holds its state (forward: zeros before the first valid step;
 *   backward: its state after the first valid step). So "last" pooling is
 *   `out[:, steps-1, :hidden]` (forward at the last valid step) concatenated with
 *   `out[:, 0, hidden:]` (backward after reading the whole valid span), and neither
 *   changes when more padding is added.
 *
 * Differentiable with respect to `x` and every weight.
 */
export type LstmLayerFn = (
  x: tf.Tensor3D,
  mask: tf.Tensor2D,
  weights: LstmLayerWeights,
) => tf.Tensor3D;

export { assertLstmLayerShapes } from "../kernels/lstm_shapes.ts";
