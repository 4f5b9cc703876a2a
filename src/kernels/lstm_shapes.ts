/**
 * What the LSTM kernels take: one layer's weights per direction as plain tensors (the
 * model's `tf.Variable`s fit), and the shape check every kernel runs first.
 *
 * Gate order is i, f, g, o: the same in Keras/tfjs (i, f, c, o) and PyTorch (i, f, g, o).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

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

/** An LSTM layer op: x, mask, then kernel, recurrent, bias per direction. */
export type LstmOp = (x: tf.Tensor, mask: tf.Tensor, ...weights: tf.Tensor[]) => tf.Tensor;

/** An implementation's four ops, by direction count and whether the input gradient is wanted. */
export interface LstmOps {
  readonly ops: readonly LstmOp[];
}

/**
 * Builds the four variants of an op: `make(dirs, inputGradient)` for 1 and 2 directions, with
 * and without the input gradient.
 */
export function lstmOps(make: (dirs: 1 | 2, inputGradient: boolean) => LstmOp): LstmOps {
  // Indexed by (bidirectional ? 1 : 0) + (input gradient ? 0 : 2).
  return { ops: [make(1, true), make(2, true), make(1, false), make(2, false)] };
}

/**
 * Runs the variant of `ops` that fits `weights` and `inputGradient` (default true) on
 * x and a float32 mask.
 */
export function runLstmOp(
  ops: LstmOps,
  x: tf.Tensor3D,
  mask: tf.Tensor2D,
  weights: LstmLayerTensors,
  inputGradient?: boolean,
): tf.Tensor3D {
  const op = ops.ops[(weights.backward ? 1 : 0) + (inputGradient === false ? 2 : 0)];
  const w = weights.backward ? [weights.forward, weights.backward] : [weights.forward];
  const maskF = mask.dtype === "float32" ? mask : tf.cast(mask, "float32");
  return op(x, maskF, ...w.flatMap((d) => [d.kernel, d.recurrent, d.bias])) as tf.Tensor3D;
}

/** The arguments `tf.customGrad` passes an {@link LstmOp}: x, mask, the weights, and `save`. */
export function lstmOpArgs(
  // deno-lint-ignore no-explicit-any
  args: any[],
  dirs: 1 | 2,
): { x: tf.Tensor3D; mask: tf.Tensor2D; weights: tf.Tensor[]; save: tf.GradSaveFunc } {
  return {
    x: args[0] as tf.Tensor3D,
    mask: args[1] as tf.Tensor2D,
    weights: args.slice(2, 2 + 3 * dirs) as tf.Tensor[],
    save: args[args.length - 1] as tf.GradSaveFunc,
  };
}
