/**
 * The best checkpoint of a tracked training as an MLflow 3 logged model of its run: the
 * training hooks remember the latest `best` checkpoint, and when the run ends (finished or
 * stopped, not failed) queue it on the run's logger, after the epoch metrics it needs. The
 * `MLmodel` file describes the flavor honestly: this toolkit's TensorFlow.js checkpoint,
 * loaded with `deno task evaluate --checkpoint`, not a Python flavor.
 *
 * @module
 */
import type { LoggedModelRecord, MlmodelValue } from "../tracking/logged_model.ts";
import type { RunLogger } from "../tracking/run_logger.ts";
import { CHECKPOINT_FORMAT, readCheckpoint } from "../train/checkpoint.ts";
import type { CheckpointFiles, TrainHooks } from "../train/hooks.ts";
import { tfjsVersion } from "./run_tags.ts";

/** The flavor name in the `MLmodel` file. */
export const TOOLKIT_FLAVOR = "component_x_lstm";

/** What a training's logged model is made of besides its checkpoint. */
export interface TrainingModelOptions {
  /** The model's name (the run's name). */
  readonly name: string;
  /** The run's params (Python's `log_model` gives the model its run's params). */
  readonly params: Readonly<Record<string, string>>;
  /** The run's tags; the model keeps MLflow's user and source tags, as Python's does. */
  readonly tags: Readonly<Record<string, string>>;
  /** `@component-x/lstm-webgpu` version, for the flavor. */
  readonly toolkitVersion: string;
}

const FILE_ROLES: Readonly<Record<string, string>> = {
  "state.json": "state",
  "weights.safetensors": "weights",
  "optimizer.safetensors": "optimizer",
  "model.safetensors": "pytorch_state_dict",
  "feature_stats.json": "feature_stats",
};

/** The `MLmodel` flavors of a checkpoint of this toolkit. */
export function toolkitFlavor(
  best: CheckpointFiles,
  toolkitVersion: string,
): Record<string, MlmodelValue> {
  const checkpoint = readCheckpoint(best.files);
  const files: Record<string, string> = {};
  for (const name of Object.keys(best.files).sort()) files[FILE_ROLES[name] ?? name] = name;
  const plain = (o: object) =>
    Object.fromEntries(
      Object.entries(o).filter(([, v]) => ["string", "number", "boolean"].includes(typeof v)),
    ) as Record<string, MlmodelValue>;
  return {
    [TOOLKIT_FLAVOR]: {
      framework: "TensorFlow.js",
      tfjs_version: tfjsVersion(),
      toolkit: "@component-x/lstm-webgpu",
      toolkit_version: toolkitVersion,
      checkpoint_format: CHECKPOINT_FORMAT,
      // 0-based, as metrics.csv and the MLflow steps count (the pipeline's epoch).
      epoch: best.epoch - 1,
      best_val_macro_f1: checkpoint.bestValF1,
      model_config: plain(checkpoint.modelConfig),
      data_keys: checkpoint.dataKeys === null ? null : plain(checkpoint.dataKeys),
      files,
      load_with: "deno task evaluate --checkpoint <this model's folder> --npz <data .npz>",
    },
  };
}

/** MLflow's tags that Python's `log_model` puts on a model (user, source, git). */
function contextTags(tags: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(tags).filter(([k]) => k === "mlflow.user" || k.startsWith("mlflow.source.")),
  );
}

/** The logged model of a training's best checkpoint. */
export function trainingModelRecord(
  best: CheckpointFiles,
  options: TrainingModelOptions,
): LoggedModelRecord {
  return {
    recordId: crypto.randomUUID(),
    name: options.name,
    modelType: "lstm-sequence-classifier",
    params: options.params,
    tags: contextTags(options.tags),
    flavors: toolkitFlavor(best, options.toolkitVersion),
    files: best.files,
    // The MLflow step of that epoch's metrics (epochs count from 0, as the pipeline's).
    step: best.epoch - 1,
  };
}

/**
 * Hooks that log the best checkpoint as a logged model of the run when it ends. Subscribe
 * them before the hooks that end the run (the logger refuses records after its end).
 */
export function loggedModelHooks(logger: RunLogger, options: TrainingModelOptions): TrainHooks {
  let best: CheckpointFiles | null = null;
  return {
    onCheckpoint(checkpoint) {
      if (checkpoint.kind === "best") best = checkpoint;
    },
    onEnd({ status }) {
      if (best === null || status === "FAILED") return;
      logger.logModel(trainingModelRecord(best, options));
    },
  };
}
