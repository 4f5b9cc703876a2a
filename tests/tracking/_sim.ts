/** A simulated training: plain EpochMetrics and checkpoint bytes fed to hooks. */
import type { EpochMetrics, TrainHooks } from "../../src/train/hooks.ts";
import { DEFAULT_TRAIN_JOB, type RunSpec, type TrainJobConfig } from "../../src/jobs/run_spec.ts";

/** Deterministic metrics of epoch `e`; epoch 2's val_loss is NaN to exercise encoding. */
export function epochMetrics(e: number): EpochMetrics {
  return {
    epoch: e,
    train_loss: 1 / (e + 1),
    train_acc: 0.5 + e / 100,
    val_loss: e === 2 ? NaN : 1.5 / (e + 1),
    val_acc: 0.4 + e / 50,
    val_macro_f1: 0.3 + e / 40,
    lr: 0.001 * 0.5 ** Math.floor(e / 2),
    val_cost: 1000 - 10 * e,
    epoch_seconds: 2.5 + e,
  };
}

/** Checkpoint bytes of epoch `e` (distinct per epoch and kind). */
export function checkpointBytes(kind: string, e: number, size = 4096): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + e * 7 + kind.length) & 255;
  return b;
}

/**
 * Feeds epochs to hooks as train() does: the metrics of epoch `e` (counted from 0), then the
 * checkpoints after it (`epoch`: epochs finished, e + 1); best on odd epochs. Returns the time
 * spent in hooks per epoch (ms).
 */
export async function feedEpochs(hooks: TrainHooks, epochs: number[]): Promise<number[]> {
  const times: number[] = [];
  for (const e of epochs) {
    const t0 = performance.now();
    await hooks.onEpochEnd?.(epochMetrics(e), { isBest: e % 2 === 1 });
    await hooks.onCheckpoint?.({
      kind: "last",
      epoch: e + 1,
      files: {
        "model.safetensors": checkpointBytes("last", e),
        "meta.json": new TextEncoder().encode(`{"epoch":${e}}`),
      },
    });
    if (e % 2 === 1) {
      await hooks.onCheckpoint?.({
        kind: "best",
        epoch: e + 1,
        files: {
          "model.safetensors": checkpointBytes("best", e),
          "meta.json": new TextEncoder().encode(`{"epoch":${e}}`),
        },
      });
    }
    times.push(performance.now() - t0);
  }
  return times;
}

/** A job config for a tracked run writing into `dir` (5 epochs). */
export async function simJob(
  dir: string,
  overrides: Partial<RunSpec>,
): Promise<TrainJobConfig> {
  await Deno.copyFile(
    new URL("../../src/data/component_x_feature_stats.json", import.meta.url),
    `${dir}/feature_stats.json`,
  );
  await Deno.writeFile(`${dir}/train.npz`, new TextEncoder().encode("train bytes"));
  await Deno.writeFile(`${dir}/val.npz`, new TextEncoder().encode("val bytes"));
  return {
    model: DEFAULT_TRAIN_JOB.model,
    loop: { ...DEFAULT_TRAIN_JOB.loop, epochs: 5 },
    run: {
      ...DEFAULT_TRAIN_JOB.run,
      trainNpz: `${dir}/train.npz`,
      valNpz: `${dir}/val.npz`,
      featureStats: `${dir}/feature_stats.json`,
      outputDir: `${dir}/out`,
      mlflow: true,
      dataVersion: "val2025w48",
      modelTag: "biLSTM-baseline",
      ...overrides,
    },
  };
}

/** Writes metrics.csv for epochs like the CLI's metrics hook does. */
export async function writeMetricsCsv(outDir: string, epochs: number[]): Promise<string> {
  const cols = [
    "epoch",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "val_macro_f1",
    "lr",
    "val_cost",
    "epoch_seconds",
  ] as const;
  const text =
    [cols.join(","), ...epochs.map((e) => cols.map((c) => String(epochMetrics(e)[c])).join(","))]
      .join("\n") + "\n";
  await Deno.mkdir(outDir, { recursive: true });
  await Deno.writeTextFile(`${outDir}/metrics.csv`, text);
  return text;
}
