/**
 * `deno task perf --epoch`: one full training epoch at the real training split's size on
 * generated Component X-like data (`generateSample`, transformed as `deno task train` does),
 * with `train()`'s default settings, with and without `--bucket-by-length`, and PyTorch's
 * epoch (same model, packed sequences, AdamW) on the same transformed arrays, written to
 * an `.npz`, when torch is importable.
 *
 * @module
 */
import {
  createSequenceDataset,
  generateSample,
  parseFeatureStats,
  type SequenceDataset,
  transformFeatures,
} from "../../src/data/mod.ts";
import { writeNpz } from "../../src/npz/mod.ts";
import { DEFAULT_TRAIN_CONFIG, type LoopConfig, train, withSettings } from "../../src/train/mod.ts";
import type { ModelSettings } from "../../src/model/mod.ts";
import { processCpuMs, torchEnv } from "./reference_deno.ts";

/** Model and loop settings to change from `train`'s defaults, side by side. */
export type Settings = Partial<ModelSettings & LoopConfig>;

/** One epoch of ours. */
export interface EpochRun {
  readonly bucketByLength: boolean;
  /** Wall time of the epoch: training steps and validation (`epoch_seconds`). */
  readonly epochSeconds: number;
  /** CPU time of this process during the epoch (all threads). */
  readonly cpuSeconds: number;
  readonly steps: number;
  readonly trainLoss: number;
  readonly valLoss: number;
  readonly valMacroF1: number;
}

/** PyTorch's epoch. */
export interface TorchEpoch {
  readonly epochSeconds: number;
  readonly cpuSeconds: number;
  readonly threads: number;
  readonly trainLoss: number;
  readonly valLoss: number;
  readonly torchVersion: string;
}

/** Generated, transformed train and validation splits. */
export interface EpochData {
  readonly train: SequenceDataset;
  readonly val: SequenceDataset;
  readonly featureStatsJson: string;
  /** Mean valid length of the training rows. */
  readonly meanLength: number;
}

/** Generates `rows` training windows (and `valRows`) and applies the contract's transform. */
export function epochData(rows: number, valRows: number, seed = 7): EpochData {
  const sample = generateSample({ trainRows: rows, valRows, seed });
  const stats = parseFeatureStats(sample.featureStats);
  const prepare = (split: typeof sample.train) => {
    const d = createSequenceDataset(split);
    transformFeatures(d.x, [d.size, d.steps, d.features], d.lengths, stats);
    return d;
  };
  const trainSet = prepare(sample.train);
  const meanLength = trainSet.lengths.reduce((a, b) => a + b, 0) / trainSet.size;
  return {
    train: trainSet,
    val: prepare(sample.val),
    featureStatsJson: JSON.stringify(sample.featureStats),
    meanLength,
  };
}

/** Trains one epoch with the default config (and `overrides`) on the active backend. */
export async function timeEpoch(
  data: EpochData,
  bucketByLength: boolean,
  overrides: Settings = {},
  onProgress?: (line: string) => void,
): Promise<EpochRun> {
  const config = withSettings(DEFAULT_TRAIN_CONFIG, { ...overrides, epochs: 1, bucketByLength });
  const cpu0 = processCpuMs();
  let steps = 0;
  const result = await train(config, data, {
    onStart: (info) => void (steps = info.stepsPerEpoch),
    onStep: (p) =>
      onProgress?.(
        `  step ${p.step}/${p.stepsPerEpoch}: loss ${p.loss.toFixed(4)}, ` +
          `${p.elapsedSeconds.toFixed(1)} s`,
      ),
  });
  const cpuSeconds = (processCpuMs() - cpu0) / 1000;
  if (result.history.length !== 1) {
    throw new Error(`Cannot time one epoch: train() ran ${result.history.length}`);
  }
  const m = result.history[0];
  return {
    bucketByLength,
    epochSeconds: m.epoch_seconds,
    cpuSeconds,
    steps,
    trainLoss: m.train_loss,
    valLoss: m.val_loss,
    valMacroF1: m.val_macro_f1,
  };
}

// The model of DEFAULT_TRAIN_CONFIG in PyTorch: nn.LSTM (dropout between layers), "last"
// pooling from h_n, the head with dropout after each ReLU; AdamW; shuffled batches of
// packed sequences (valid steps only); then one validation pass.
const TORCH_EPOCH = String.raw`
import json, sys, time
import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence
cfg = json.loads(sys.argv[2]); torch.set_num_threads(int(sys.argv[3])); torch.manual_seed(cfg["seed"])
z = np.load(sys.argv[1])
def post_padded(x, lengths):
    # Our files are pre-padded; packing wants the valid steps first.
    out = np.zeros_like(x)
    T = x.shape[1]
    for i, l in enumerate(lengths):
        out[i, :l] = x[i, T - l:]
    return torch.from_numpy(out)
splits = {}
for name in ("train", "val"):
    lengths = z[name + "_seq_lengths"].astype(np.int64)
    splits[name] = (post_padded(z[name + "_sequences"], lengths), torch.from_numpy(lengths),
                    torch.from_numpy(z[name + "_labels"].astype(np.int64)))
F, H, L, C = splits["train"][0].shape[2], cfg["hiddenSize"], cfg["numLayers"], 5
bi = cfg["bidirectional"]; D = 2 if bi else 1; p = cfg["dropout"]

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(F, H, L, batch_first=True, bidirectional=bi, dropout=p if L > 1 else 0)
        self.head = nn.Sequential(nn.Linear(D * H, 128), nn.ReLU(), nn.Dropout(p), nn.Linear(128, 64),
                                  nn.ReLU(), nn.Dropout(p), nn.Linear(64, C))
    def forward(self, x, lengths):
        _, (h, _) = self.lstm(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
        return self.head(torch.cat([h[-2], h[-1]], 1) if bi else h[-1])

net = Net(); opt = torch.optim.AdamW(net.parameters(), lr=cfg["lr"], weight_decay=cfg["weightDecay"])
x, lengths, y = splits["train"]; bs = cfg["batchSize"]
t0, c0 = time.perf_counter(), time.process_time()
net.train(); order = torch.randperm(len(y)); total = 0.0
for s in range(0, len(y), bs):
    idx = order[s:s + bs]; l = lengths[idx]; T = int(l.max())
    opt.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(net(x[idx, :T], l), y[idx])
    loss.backward(); opt.step(); total += loss.item() * len(idx)
net.eval(); vx, vl, vy = splits["val"]; vtotal = 0.0
with torch.no_grad():
    for s in range(0, len(vy), bs):
        l = vl[s:s + bs]; T = int(l.max())
        vtotal += nn.functional.cross_entropy(net(vx[s:s + bs, :T], l), vy[s:s + bs], reduction="sum").item()
print(json.dumps({"epochSeconds": time.perf_counter() - t0, "cpuSeconds": time.process_time() - c0,
                  "threads": torch.get_num_threads(), "trainLoss": total / len(y),
                  "valLoss": vtotal / len(vy), "torchVersion": torch.__version__}))
`;

const int64 = (a: Int32Array) => ({
  dtype: "int64" as const,
  shape: [a.length],
  data: BigInt64Array.from(a, (v) => BigInt(v)),
});

/**
 * Writes the transformed splits to `dir/epoch.npz` (`train_sequences`, `train_labels`,
 * `train_seq_lengths`, `val_*`) and trains PyTorch's epoch on it with `threads` threads.
 */
export async function timeTorchEpoch(
  data: EpochData,
  dir: string,
  python: string,
  threads: number,
  overrides: Settings = {},
): Promise<TorchEpoch> {
  const arrays: Record<string, Parameters<typeof writeNpz>[0][string]> = {};
  for (const [name, d] of [["train", data.train], ["val", data.val]] as const) {
    arrays[`${name}_sequences`] = {
      dtype: "float32",
      shape: [d.size, d.steps, d.features],
      data: d.x,
    };
    arrays[`${name}_labels`] = int64(d.labels);
    arrays[`${name}_seq_lengths`] = int64(d.lengths);
  }
  const path = `${dir}/epoch.npz`;
  await Deno.writeFile(path, writeNpz(arrays));
  const { model, loop } = withSettings(DEFAULT_TRAIN_CONFIG, overrides);
  const config = { ...model, ...loop };
  const out = await new Deno.Command(python, {
    args: ["-c", TORCH_EPOCH, path, JSON.stringify(config), String(threads)],
    env: torchEnv(),
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `Cannot time PyTorch's epoch: ${python} failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return JSON.parse(new TextDecoder().decode(out.stdout)) as TorchEpoch;
}
