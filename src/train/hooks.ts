/**
 * What the training loop tells the world. `train/` never imports `tracking/`: the console,
 * `metrics.csv`, MLflow and the browser chart all subscribe through these hooks, which
 * receive plain numbers and bytes, never tensors.
 *
 * @module
 */
import type { TrainConfig } from "./config.ts";

/**
 * One row of `metrics.csv`; the same names are the MLflow metric keys (step = epoch). As in
 * the PyTorch pipeline, `epoch` counts from 0 and `lr` is the rate after the epoch's
 * scheduler step (the next epoch's). Without validation data the `val_*` values are NaN.
 */
export interface EpochMetrics {
  /** 0-based: the first epoch is 0 (the loop's and the progress lines' epoch 1). */
  readonly epoch: number;
  readonly train_loss: number;
  readonly train_acc: number;
  readonly val_loss: number;
  readonly val_acc: number;
  readonly val_macro_f1: number;
  readonly lr: number;
  /** Total cost on the validation set under the task's cost matrix; absent without one. */
  readonly val_cost?: number;
  /** Wall time of the epoch in seconds (training and validation). */
  readonly epoch_seconds: number;
  /**
   * False when there was no validation data (the `val_*` values are NaN and are neither
   * written to `metrics.csv` nor logged); absent means true. Not a column.
   */
  readonly validated?: boolean;
}

/** Where the loop stands inside an epoch; sent at most once per log interval. */
export interface StepProgress {
  readonly epoch: number;
  readonly step: number;
  readonly stepsPerEpoch: number;
  /** Mean training loss since the last report, read back from the device once. */
  readonly loss: number;
  readonly elapsedSeconds: number;
}

/** A checkpoint as bytes: relative file name -> contents. */
export interface CheckpointFiles {
  readonly kind: "last" | "best";
  /** Finished epochs (1-based count). */
  readonly epoch: number;
  readonly files: Readonly<Record<string, Uint8Array>>;
  /**
   * The same checkpoint in the PyTorch pipeline's format (`last.pt` / `best.pt`, see
   * `src/train/torch_checkpoint.ts`); absent in a snapshot taken inside an epoch (Ctrl-C),
   * which that format cannot describe.
   */
  readonly pt?: Uint8Array;
}

/** How a run ended. */
export type RunStatus = "FINISHED" | "FAILED" | "KILLED";

/** Subscribers to the training loop. Every hook may be async; the loop awaits it. */
export interface TrainHooks {
  onStart?(info: { config: TrainConfig; stepsPerEpoch: number; startEpoch: number }):
    | void
    | Promise<void>;
  onStep?(progress: StepProgress): void | Promise<void>;
  onEpochEnd?(metrics: EpochMetrics, info: { isBest: boolean }): void | Promise<void>;
  onCheckpoint?(checkpoint: CheckpointFiles): void | Promise<void>;
  onEnd?(result: { status: RunStatus; bestValF1: number; error?: unknown }): void | Promise<void>;
}
