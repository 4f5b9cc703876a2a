/**
 * The contract every LSTM layer implementation honours (tf.layers reference, the generic
 * fused op built from tf ops, and the WebGPU kernels in `src/kernels/`).
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

/**
 * Throws a `RangeError` unless `x` [batch, steps, inputSize], `mask` [batch, steps] and every
 * direction's kernel [inputSize, 4H], recurrent [H, 4H] and bias [4H] agree; `layer` names
 * the implementation in the message.
 *
 * @example
 * ```ts
 * assertLstmLayerShapes(x, mask, weights); // before running any LstmLayerFn
 * ```
 */
export function assertLstmLayerShapes(
  x: tf.Tensor,
  mask: tf.Tensor,
  weights: LstmLayerWeights,
  layer = "the LSTM layer",
): void {
  if (x.rank !== 3) {
    throw new RangeError(
      `Cannot run ${layer}: expected x of rank 3 [batch, steps, inputSize], received shape [${x.shape}]`,
    );
  }
  const [b, t, inSize] = x.shape;
  if (mask.rank !== 2 || mask.shape[0] !== b || mask.shape[1] !== t) {
    throw new RangeError(
      `Cannot run ${layer}: expected mask of shape [${b},${t}] to match x [${x.shape}], received [${mask.shape}]`,
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
        `Cannot run ${layer}: expected kernel [${inSize},${4 * h}], recurrent [${h},${
          4 * h
        }], bias [${
          4 * h
        }], received kernel [${d.kernel.shape}], recurrent [${d.recurrent.shape}], bias [${d.bias.shape}]`,
      );
    }
  }
}
