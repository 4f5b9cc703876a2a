/**
 * Shared by the tests that compare the classifier with the pipeline's PyTorch model: the
 * checkpoints tests/torch/pipeline.py makes, and the classifier's probabilities for them.
 */
import * as tf from "@tensorflow/tfjs";
import type { createLstmClassifier } from "../../src/model/mod.ts";

/** x [B, T, F] and the pre-padding mask of `lengths`. */
export function batch(x: number[][][], lengths: number[]) {
  const steps = x[0].length;
  const mask = lengths.flatMap((n) =>
    Array.from({ length: steps }, (_, t) => t >= steps - n ? 1 : 0)
  );
  return {
    x: tf.tensor3d(x),
    mask: tf.tensor2d(mask, [lengths.length, steps]),
  };
}

export async function probabilities(
  model: ReturnType<typeof createLstmClassifier>,
  x: number[][][],
  lengths: number[],
): Promise<number[]> {
  const b = batch(x, lengths);
  const p = tf.tidy(() => tf.softmax(model.apply(b.x, b.mask)));
  const out = Array.from(await p.data()); // data(), not dataSync(): webgpu in Deno reads async
  tf.dispose([b.x, b.mask, p]);
  return out;
}

export interface Made {
  x: number[][][];
  lengths: number[];
  labels: number[];
  probs: number[];
}

export const SPECS = [
  { bidirectional: true, num_layers: 2, pooling: "last" },
  { bidirectional: true, num_layers: 2, pooling: "mean" },
  { bidirectional: false, num_layers: 1, pooling: "last" },
  { bidirectional: false, num_layers: 2, pooling: "mean" },
].map((s, i) => ({
  ...s,
  input_size: 3,
  hidden_size: 5,
  dropout: 0.1,
  batch: 6,
  steps: 7,
  epochs: 1,
  seed: 10 + i,
}));
