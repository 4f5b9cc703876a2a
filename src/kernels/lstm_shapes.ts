/**
 * What the LSTM kernels take: one layer's weights per direction as plain tensors (the
 * model's `tf.Variable`s fit), and the shape check every kernel runs first.
 *
 * Gate order is i, f, g, o: the same in Keras/tfjs (i, f, c, o) and PyTorch (i, f, g, o).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/** One direction: kernel [inputSize, 4H], recurrent [H, 4H], bias [4H]. */
export interface LstmDirectionTensors {
  readonly kernel: tf.Tensor;
  readonly recurrent: tf.Tensor;
  readonly bias: tf.Tensor;
}

/** One layer: a forward direction and, when bidirectional, a backward one. */
export interface LstmLayerTensors {
  readonly forward: LstmDirectionTensors;
  readonly backward?: LstmDirectionTensors;
}

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
  weights: LstmLayerTensors,
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
