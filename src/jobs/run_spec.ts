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
import { pythonStr } from "../torch/py_value.ts";
import { type Task, taskToJson } from "../metrics/task.ts";
import { redactUri } from "../tracking/tracking_uri.ts";
import { pipelineArgValue, snakeCase } from "../train/torch_checkpoint.ts";

/** Paths, device, resuming, tracking and tags of one training run. */
export interface RunSpec extends SequenceKeys {
  readonly trainNpz: string;
  /** "" = no validation (as the pipeline without `--val-npz`). */
  readonly valNpz: string;
  /** `feature_stats.json` applied to both files at load. */
  readonly featureStats: string;
  /** Where `metrics.csv`, `feature_stats.json`, `last/` and `best/` go. */
  readonly outputDir: string;
  /** The device as asked for ("" = auto), e.g. `cuda`, `webgpu`, `cpu`. */
  readonly device: string;
  /**
   * A checkpoint folder or `.pt` (ours or the pipeline's) to continue from; "" or a path
   * that does not exist starts fresh.
   */
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
  valNpz: "",
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

/**
 * A training's MLflow params: every model, loop and run setting under the pipeline's flag
 * names (`hidden_size`, `lr`, `train_npz`, ...), values as the pipeline's `log_params`
 * writes them (Python's `str()`: `True`/`False`, `1e-05`, floats with a decimal point),
 * unset settings (`""`, `--grad-clip 0`) left out, credentials removed from any URI. `run`
 * may hold only the settings a caller has (the browser has no paths).
 */
export function trainingParams(
  model: ModelSettings,
  loop: LoopConfig,
  run: Readonly<Partial<RunSpec>>,
): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [key, value] of Object.entries({ ...model, ...loop, ...run })) {
    if (NOT_PARAMS.has(key)) continue;
    // The pooling param is our --pooling value (the .pt's args spell it the pipeline's way).
    const py = key === "pooling" ? String(value) : pipelineArgValue(key, value);
    if (py === null) continue;
    params[snakeCase(key)] = redactUri(pythonStr(py as null | boolean | bigint | number | string));
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
