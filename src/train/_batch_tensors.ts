/**
 * Host batch -> tensors. Private to `src/train/`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { HostBatch } from "../data/batches.ts";

/** Tensors of one batch; create inside `tf.tidy`. */
export function batchTensors(
  b: HostBatch,
): { x: tf.Tensor3D; mask: tf.Tensor2D; labels: tf.Tensor1D } {
  return {
    x: tf.tensor3d(b.x, [b.size, b.steps, b.features], "float32"),
    mask: tf.tensor2d(b.mask, [b.size, b.steps], "float32"),
    labels: tf.tensor1d(b.labels, "int32"),
  };
}
