/** Small labelled sequence data written by numpy (np.savez_compressed), for training tests. */
import { runPython } from "../_python.ts";
import { readNpz } from "../../src/npz/mod.ts";
import { createSequenceDataset, type SequenceDataset } from "../../src/data/mod.ts";
import type { ModelSettings } from "../../src/model/mod.ts";
import {
  DEFAULT_TRAIN_CONFIG,
  type LoopConfig,
  type TrainConfig,
  withSettings,
} from "../../src/train/mod.ts";

/**
 * numpy draws imbalanced classes (like the contract's) whose valid steps carry a
 * class-dependent signal in the first two features; pre-padded, lengths 2..steps.
 */
export async function numpySplit(
  n: number,
  steps: number,
  features: number,
  seed: number,
): Promise<Uint8Array> {
  const hex = await runPython(`
import io, sys, numpy as np
rng = np.random.default_rng(${seed})
n, t, f = ${n}, ${steps}, ${features}
y = rng.choice(5, size=n, p=[0.6, 0.1, 0.1, 0.1, 0.1])
lengths = rng.integers(2, t + 1, size=n)
x = rng.normal(size=(n, t, f)).astype(np.float32) * 0.5
x[:, :, 0] += y[:, None] * 1.0
x[:, :, 1] -= (y[:, None] == 0) * 1.0
for i in range(n): x[i, : t - lengths[i]] = 0
buf = io.BytesIO()
np.savez_compressed(buf, sequences=x, labels=y.astype(np.int64), seq_lengths=lengths.astype(np.int64))
sys.stdout.write(buf.getvalue().hex())`);
  return Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16));
}

/** Train and val datasets from {@link numpySplit}. */
export async function smallData(
  trainRows = 160,
  valRows = 96,
  steps = 10,
  features = 3,
): Promise<{ train: SequenceDataset; val: SequenceDataset }> {
  const fromHex = async (n: number, seed: number) =>
    createSequenceDataset(readNpz(await numpySplit(n, steps, features, seed)));
  return { train: await fromHex(trainRows, 1), val: await fromHex(valRows, 2) };
}

/** A tiny, fast config for tests; `overrides` names model and loop settings side by side. */
export function tinyConfig(overrides: Partial<ModelSettings & LoopConfig> = {}): TrainConfig {
  return withSettings(DEFAULT_TRAIN_CONFIG, {
    hiddenSize: 8,
    numLayers: 1,
    bidirectional: false,
    batchSize: 32,
    epochs: 2,
    lr: 1e-2,
    logInterval: 2,
    ...overrides,
  });
}
