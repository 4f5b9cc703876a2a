/**
 * The run spec: what a training job needs besides the model and loop settings (where the
 * data is and which members hold it, where outputs go, the device, resuming, tracking and
 * the run's naming tags). It stays in the jobs layer: the training loop never sees it and
 * checkpoints never store it.
 *
 * @module
 */
import { DEFAULT_SEQUENCE_KEYS, type SequenceKeys } from "../data/sequence_dataset.ts";
import type { ModelSettings } from "../model/model_settings.ts";
import { DEFAULT_TRAIN_CONFIG, type LoopConfig, type TrainConfig } from "../train/config.ts";
import { type Task, taskToJson } from "../metrics/task.ts";
import { redactUri } from "../tracking/tracking_uri.ts";

/** Paths, device, resuming, tracking and tags of one training run. */
export interface RunSpec extends SequenceKeys {
  readonly trainNpz: string;
  readonly valNpz: string;
  /** `feature_stats.json` applied to both files at load. */
  readonly featureStats: string;
  /** Where `metrics.csv`, `feature_stats.json`, `last/` and `best/` go. */
  readonly outputDir: string;
  /** The device as asked for ("" = auto), e.g. `cuda`, `webgpu`, `cpu`. */
  readonly device: string;
  /** A checkpoint folder to continue from; "" starts fresh. */
  readonly resumeFrom: string;
  /** Replace the outputs of another training in `outputDir` (else that is an error). */
  readonly overwrite: boolean;
  /** Log the run to MLflow. */
  readonly mlflow: boolean;
  /** "" = `MLFLOW_TRACKING_URI` or `./mlruns`. Never holds credentials. */
  readonly mlflowTrackingUri: string;
  readonly mlflowExperiment: string;
  /** "" = `{data_version}-l{window}-{model_tag}-run{N}`. */
  readonly mlflowRunName: string;
  /** Data version, for the run name and the `data.version` tag. */
  readonly dataVersion: string;
  /** Model tag, for the run name and the `model.tag` tag. */
  readonly modelTag: string;
  /** The parent run (`mlflow.parentRunId`), e.g. a sweep's; "" = none. */
  readonly mlflowParentRunId: string;
  /** Further run tags (after the toolkit's own, which they cannot replace). */
  readonly mlflowTags: Readonly<Record<string, string>>;
  /** Sample system metrics (`system/...`) into the run, like MLflow's `log_system_metrics`. */
  readonly logSystemMetrics: boolean;
  /** Seconds between system metric samples (MLflow's default is 10). */
  readonly systemMetricsInterval: number;
  /** A task file (class names, cost matrix, promotion metric); "" = the default task. */
  readonly task: string;
  /** K; 0 = the task's, else the data's (largest label + 1 over train and val). */
  readonly numClasses: number;
}

/** A whole training job: the model's settings, the loop's and the run's. */
export interface TrainJobConfig extends TrainConfig {
  readonly run: RunSpec;
}

/** The data contract's paths and the toolkit's defaults. */
export const DEFAULT_RUN_SPEC: RunSpec = Object.freeze({
  trainNpz: "data/train_sequences.npz",
  valNpz: "data/val_sequences.npz",
  featureStats: "artifacts/feature_stats.json",
  outputDir: "artifacts",
  ...DEFAULT_SEQUENCE_KEYS,
  device: "",
  resumeFrom: "",
  overwrite: false,
  mlflow: false,
  mlflowTrackingUri: "",
  mlflowExperiment: "component-x-lstm",
  mlflowRunName: "",
  dataVersion: "",
  modelTag: "",
  mlflowParentRunId: "",
  mlflowTags: Object.freeze({}),
  logSystemMetrics: false,
  systemMetricsInterval: 10,
  task: "",
  numClasses: 0,
});

/** Every default: `deno task train` without flags. */
export const DEFAULT_TRAIN_JOB: TrainJobConfig = Object.freeze({
  ...DEFAULT_TRAIN_CONFIG,
  run: DEFAULT_RUN_SPEC,
});

/** Run settings that are tags of the run, not params. */
const NOT_PARAMS = new Set(["mlflowParentRunId", "mlflowTags"]);

/** camelCase -> snake_case, the pipeline's param names. */
function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * A training's MLflow params: every model, loop and run setting under the pipeline's flag
 * names (`hidden_size`, `lr`, `train_npz`, ...), values as strings, credentials removed from
 * any URI. `run` may hold only the settings a caller has (the browser has no paths).
 */
export function trainingParams(
  model: ModelSettings,
  loop: LoopConfig,
  run: Readonly<Partial<RunSpec>>,
): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [key, value] of Object.entries({ ...model, ...loop, ...run })) {
    if (NOT_PARAMS.has(key)) continue;
    params[snake(key)] = redactUri(String(value));
  }
  return params;
}

/** Longest param value logged; MLflow servers refuse longer ones (the whole task is in task.json). */
const PARAM_LIMIT = 6000;

/**
 * The task's MLflow params: `task_name`, `num_classes`, `class_names` and `cost_matrix` (JSON;
 * "none" without costs) and `promotion_metric`. The whole task is also logged as `task.json`.
 */
export function taskParams(task: Task): Record<string, string> {
  const json = taskToJson(task);
  const cap = (text: string) => (text.length <= PARAM_LIMIT ? text : "(see task.json)");
  return {
    task_name: task.name,
    num_classes: String(task.classNames.length),
    class_names: cap(JSON.stringify(json.class_names)),
    cost_matrix: json.cost_matrix ? cap(JSON.stringify(json.cost_matrix)) : "none",
    promotion_metric: task.promotionMetric,
  };
}
