/**
 * Classification losses: cross-entropy, class-weighted cross-entropy and focal loss.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Options of {@link classificationLoss}. */
export interface LossOptions {
  /** Per-class weights (the contract's `--weighted-loss` weights); absent = unweighted. */
  readonly classWeights?: tf.Tensor1D;
  /** Focal loss exponent (`--focal-loss` uses 2); 0 or absent = plain cross-entropy. */
  readonly focalGamma?: number;
}

/**
 * Mean loss of a batch, as PyTorch computes it: per row `l_i = (1 - p_i)^gamma * -log p_i`
 * with `p_i` the softmax probability of the true class (gamma 0: cross-entropy); with class
 * weights `w`, `sum(w[y_i] * l_i) / sum(w[y_i])` (`nn.CrossEntropyLoss(weight=w)`),
 * otherwise the plain mean. Returns a scalar; call inside `tf.tidy`.
 */
export function classificationLoss(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
  options: LossOptions = {},
): tf.Scalar {
  return tf.tidy(() => {
    const k = logits.shape[1];
    const logp = tf.logSoftmax(logits);
    const oneHot = tf.oneHot(tf.cast(labels, "int32"), k);
    let perRow: tf.Tensor1D = tf.neg(tf.sum(tf.mul(logp, oneHot), 1));
    const gamma = options.focalGamma ?? 0;
    if (gamma > 0) {
      const p = tf.exp(tf.neg(perRow));
      perRow = tf.mul(tf.pow(tf.sub(1, p), gamma), perRow);
    }
    if (!options.classWeights) return tf.mean(perRow);
    const w = tf.sum(tf.mul(oneHot, options.classWeights), 1);
    return tf.div(tf.sum(tf.mul(w, perRow)), tf.sum(w));
  });
}
