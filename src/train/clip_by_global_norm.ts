/**
 * Gradient clipping by global norm.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/**
 * Scales every gradient by `min(1, maxNorm / (norm + 1e-6))` where `norm` is the L2 norm of
 * all gradients together (PyTorch's `clip_grad_norm_`). Returns the clipped gradients and
 * the norm before clipping (a scalar tensor). `copies[i]` counts gradient i that many
 * times in the norm (a variable that stands for several PyTorch parameters with the same
 * gradient, see `OptimizedVariable.copies`); default once each. Call inside `tf.tidy`.
 */
export function clipByGlobalNorm(
  grads: readonly tf.Tensor[],
  maxNorm: number,
  copies?: readonly number[],
): { grads: tf.Tensor[]; norm: tf.Scalar } {
  const squares = grads.map((g, i) => {
    const s = tf.sum(tf.square(g));
    const c = copies?.[i] ?? 1;
    return c === 1 ? s : tf.mul(s, c);
  });
  const norm = tf.sqrt(tf.addN(squares)) as tf.Scalar;
  const scale = tf.minimum(tf.div(maxNorm, tf.add(norm, 1e-6)), 1);
  return { grads: grads.map((g) => tf.mul(g, scale)), norm };
}
