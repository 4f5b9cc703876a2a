/**
 * The resolved training configuration: built once by `cli/` (or the browser demo), printed
 * once, logged as MLflow params and stored in every checkpoint. The core never reads argv.
 *
 * Field names are the PyTorch pipeline's flag names in camelCase; `configToParams()` turns
 * them back into the flag names (`hidden_size`, ...) for MLflow params.
 *
 * @module
 */

/** Pooling over the valid steps of a pre-padded window. */
export type Pooling = "last" | "mean";

import type { LstmImpl } from "../model/lstm_impl.ts";
export type { LstmImpl };

/** Every option of `deno task train`, resolved. */
export interface TrainConfig {
  readonly trainNpz: string;
  readonly valNpz: string;
  readonly featureStats: string;
  readonly outputDir: string;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bidirectional: boolean;
  readonly dropout: number;
  readonly pooling: Pooling;
  readonly batchSize: number;
  readonly epochs: number;
  readonly lr: number;
  readonly weightDecay: number;
  readonly stepLrStepSize: number;
  readonly stepLrGamma: number;
  readonly weightedLoss: boolean;
  readonly weightedSampler: boolean;
  readonly focalLoss: boolean;
  /** Max global gradient norm; 0 disables clipping. */
  readonly gradClip: number;
  /** `--device` as given ("" = auto). */
  readonly device: string;
  readonly resumeFrom: string;
  readonly logInterval: number;
  readonly mlflow: boolean;
  /** "" = `MLFLOW_TRACKING_URI` or `./mlruns`. Credentials are never stored here. */
  readonly mlflowTrackingUri: string;
  readonly mlflowExperiment: string;
  readonly mlflowRunName: string;
  readonly seed: number;
  /** Early stopping: epochs without a val macro-F1 improvement; 0 disables. */
  readonly patience: number;
  readonly xKey: string;
  readonly yKey: string;
  readonly lengthsKey: string;
  readonly dataVersion: string;
  readonly modelTag: string;
  readonly lstmImpl: LstmImpl;
  /**
   * Batch rows of similar valid length together so per-batch trimming removes most padding
   * (`--bucket-by-length`). Optional so configs built before it existed stay valid; absent = off.
   */
  readonly bucketByLength?: boolean;
}

/** The data contract's defaults, plus ours. */
export const DEFAULT_TRAIN_CONFIG: TrainConfig = Object.freeze({
  trainNpz: "data/train_sequences.npz",
  valNpz: "data/val_sequences.npz",
  featureStats: "artifacts/feature_stats.json",
  outputDir: "artifacts",
  hiddenSize: 128,
  numLayers: 2,
  bidirectional: false,
  dropout: 0.1,
  pooling: "last",
  batchSize: 64,
  epochs: 20,
  lr: 1e-3,
  weightDecay: 1e-4,
  stepLrStepSize: 10,
  stepLrGamma: 0.5,
  weightedLoss: false,
  weightedSampler: false,
  focalLoss: false,
  gradClip: 0,
  device: "",
  resumeFrom: "",
  logInterval: 100,
  mlflow: false,
  mlflowTrackingUri: "",
  mlflowExperiment: "component-x-lstm",
  mlflowRunName: "",
  seed: 42,
  patience: 0,
  xKey: "sequences",
  yKey: "labels",
  lengthsKey: "seq_lengths",
  dataVersion: "",
  modelTag: "",
  lstmImpl: "fused",
  bucketByLength: false,
});

/** camelCase -> snake_case, the pipeline's param names. */
function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** The config as MLflow params: every flag, pipeline names, values as strings. */
export function configToParams(config: TrainConfig): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [key, value] of Object.entries(config)) params[snake(key)] = String(value);
  return params;
}
