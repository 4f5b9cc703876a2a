/**
 * Gradient clipping by global norm.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/**
 * Scales every gradient by `min(1, maxNorm / (norm + 1e-6))` where `norm` is the L2 norm of
 * all gradients together (PyTorch's `clip_grad_norm_`). Returns the clipped gradients and
 * the norm before clipping (a scalar tensor). Call inside `tf.tidy`.
 */
export function clipByGlobalNorm(
  grads: readonly tf.Tensor[],
  maxNorm: number,
): { grads: tf.Tensor[]; norm: tf.Scalar } {
  const norm = tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))) as tf.Scalar;
  const scale = tf.minimum(tf.div(maxNorm, tf.add(norm, 1e-6)), 1);
  return { grads: grads.map((g) => tf.mul(g, scale)), norm };
}
