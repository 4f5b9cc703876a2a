/**
 * Deno edge of "evaluate a checkpoint into a bundle and attach it": predicts an npz with a
 * checkpoint (read with the same checked loader as training, transformed with the
 * checkpoint's feature stats) or re-reads a `predictions.csv`, writes the evaluation
 * bundle, and, given a run id, uploads it to that MLflow run. `cli/evaluate.ts` parses the
 * flags and prints.
 *
 * @module
 */
import { parseFeatureStats } from "../data/feature_stats.ts";
import { loadSequenceFile } from "../data/load_sequences_deno.ts";
import { DEFAULT_SEQUENCE_KEYS, type SequenceKeys } from "../data/sequence_dataset.ts";
import { applyTemperature } from "../metrics/calibration.ts";
import { defaultTask, parseTask, type Task } from "../metrics/task.ts";
import {
  buildEvaluationBundle,
  type EvaluationBundle,
  type EvaluationInput,
} from "../report/evaluation_bundle.ts";
import { parsePredictionsCsv } from "../report/predictions_csv.ts";
import { writeEvaluationBundle } from "../report/write_evaluation_bundle_deno.ts";
import { parseDevice, type RuntimeInfo, selectBackend } from "../runtime/backend.ts";
import { openTrackingStore } from "../tracking/open_tracking_store_deno.ts";
import { readCheckpoint, restoreClassifier } from "../train/checkpoint.ts";
import { readCheckpointDir } from "../train/checkpoint_dir_deno.ts";
import { predictLogProbabilities } from "../train/validate.ts";
import type { MlflowDatasetInput } from "../tracking/tracking_store.ts";
import { type AttachedEvaluation, attachEvaluation } from "./attach_evaluation.ts";
import { predictionsFileInput, sequenceFileInput } from "./dataset_inputs_deno.ts";

/** What to evaluate, where the bundle goes and which run it is attached to. */
export interface EvaluateJobSpec {
  /** A checkpoint folder (or a file in it); needs `npz`. "" when `predictions` is given. */
  readonly checkpoint: string;
  readonly npz: string;
  /** "" = the checkpoint's own feature_stats.json, else artifacts/feature_stats.json. */
  readonly featureStats: string;
  /** "" = the checkpoint's data keys, else the contract's. */
  readonly xKey: string;
  readonly yKey: string;
  readonly lengthsKey: string;
  /** An existing `predictions.csv` to re-evaluate instead of predicting. */
  readonly predictions: string;
  /**
   * A task file (class names, cost matrix) to evaluate under; "" = the checkpoint's task,
   * or for `predictions`, the default task of its number of classes.
   */
  readonly task?: string;
  readonly outputDir: string;
  readonly batchSize: number;
  /** The device as asked for ("" = auto). */
  readonly device: string;
  /** Bins of the reliability diagram. */
  readonly nBins: number;
  /** "" = no upload. */
  readonly mlflowRunId: string;
  /** "" = `MLFLOW_TRACKING_URI`, else `./mlruns`. */
  readonly mlflowTrackingUri: string;
}

/** How errors name the spec's settings (default: the setting's name); the CLI gives flags. */
export type EvaluateJobLabels = Readonly<Partial<Record<keyof EvaluateJobSpec, string>>>;

/** Options of {@link runEvaluateJob}. */
export interface EvaluateJobOptions {
  /** Environment for tracking; default `Deno.env.toObject()`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Progress lines (the backend chosen); default none. */
  readonly log?: (line: string) => void;
  readonly labels?: EvaluateJobLabels;
}

/** What {@link runEvaluateJob} produced. */
export interface EvaluateJobResult {
  readonly bundle: EvaluationBundle;
  /** Paths written under the output folder. */
  readonly written: string[];
  /** The upload to the run, with the store's location; null without a run id. */
  readonly attached: (AttachedEvaluation & { readonly location: string }) | null;
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (cause) {
    throw new Error(`Cannot read ${what} ${path}: ${(cause as Error).message}`, { cause });
  }
}

/** A checkpoint path names its folder; a file inside it (e.g. state.json) means that folder. */
async function checkpointFolder(path: string): Promise<string> {
  const dir = path.replace(/\/+$/, "");
  try {
    if ((await Deno.stat(dir)).isFile) {
      return dir.includes("/") ? dir.slice(0, dir.lastIndexOf("/")) : ".";
    }
  } catch {
    // readCheckpointDir reports a missing folder with a hint.
  }
  return dir;
}

/** The task file of `spec.task`, or null. */
async function readTaskFile(
  spec: EvaluateJobSpec,
  label: (key: keyof EvaluateJobSpec) => string,
): Promise<Task | null> {
  if (!spec.task) return null;
  return parseTask(await readText(spec.task, label("task")), `${label("task")} ${spec.task}`);
}

/** The bundle's input, and the data set it was computed on (for the run's inputs). */
type Evaluated = EvaluationInput & { readonly dataset: () => Promise<MlflowDatasetInput> };

/** Predicts `spec.npz` with `spec.checkpoint`; returns the bundle's input. */
async function predictFromCheckpoint(
  spec: EvaluateJobSpec,
  label: (key: keyof EvaluateJobSpec) => string,
  log: (line: string) => void,
): Promise<Evaluated> {
  const dir = await checkpointFolder(spec.checkpoint);
  const files = await readCheckpointDir(dir);
  const checkpoint = readCheckpoint(files);
  const k = checkpoint.modelConfig.numClasses;
  const taskFile = await readTaskFile(spec, label);
  if (taskFile && taskFile.classNames.length !== k) {
    throw new RangeError(
      `Cannot use ${label("task")} ${spec.task} with checkpoint ${dir}: the task names ` +
        `${taskFile.classNames.length} classes, the model predicts ${k}`,
    );
  }
  const task = taskFile ?? checkpoint.task ?? defaultTask(k);
  let statsText: string;
  let statsSource: string;
  if (spec.featureStats !== "") {
    statsText = await readText(spec.featureStats, label("featureStats"));
    statsSource = spec.featureStats;
  } else if (files["feature_stats.json"]) {
    statsText = new TextDecoder().decode(files["feature_stats.json"]);
    statsSource = `${dir}/feature_stats.json`;
  } else {
    statsSource = "artifacts/feature_stats.json";
    statsText = await readText(statsSource, label("featureStats"));
  }
  let statsJson: unknown;
  try {
    statsJson = JSON.parse(statsText);
  } catch (cause) {
    throw new SyntaxError(
      `Cannot read feature stats ${statsSource}: not valid JSON (${(cause as Error).message}); ` +
        "pass the feature_stats.json written by deno task sample or the training pipeline",
      { cause },
    );
  }
  const saved: SequenceKeys = checkpoint.dataKeys ?? DEFAULT_SEQUENCE_KEYS;
  const keys: SequenceKeys = {
    xKey: spec.xKey || saved.xKey,
    yKey: spec.yKey || saved.yKey,
    lengthsKey: spec.lengthsKey || saved.lengthsKey,
  };
  const data = await loadSequenceFile(spec.npz, {
    ...keys,
    numClasses: k,
    numClassesSource: `the checkpoint's ${k}-class model`,
    idsKey: "vehicle_ids",
    stats: parseFeatureStats(statsJson),
    label: label("npz"),
    statsLabel: `${label("featureStats")} (${statsSource})`,
    keyLabels: { xKey: label("xKey"), yKey: label("yKey"), lengthsKey: label("lengthsKey") },
  });
  const runtime: RuntimeInfo = await selectBackend(parseDevice(spec.device));
  log(
    `Backend: ${runtime.backend}${
      runtime.adapter ? ` (${runtime.adapter})` : ""
    }: ${runtime.reason}`,
  );
  const model = restoreClassifier(checkpoint);
  let logp: Float32Array;
  try {
    logp = await predictLogProbabilities(model, data, { batchSize: spec.batchSize });
  } finally {
    model.dispose();
  }
  const rows = Array.from({ length: data.size }, (_, i) => logp.subarray(i * k, (i + 1) * k));
  const temperature = checkpoint.temperature ?? null;
  // Calibrated from the log-probabilities in float64, before they become probabilities.
  const calibrated = temperature === null ? undefined : applyTemperature(rows, temperature);
  log(
    temperature === null
      ? "calibration: the checkpoint has no temperature; probabilities are uncalibrated"
      : `calibration: temperature ${temperature.toFixed(4)} (fitted on the validation set)`,
  );
  const probabilities = rows.map((row) => row.map(Math.exp));
  return {
    labels: data.labels,
    probabilities,
    calibratedProbabilities: calibrated,
    temperature,
    task,
    vehicleIds: data.ids,
    meta: {
      checkpoint: `${dir} (epoch ${checkpoint.epoch}, best val macro-F1 ${
        checkpoint.bestValF1.toFixed(4)
      })`,
      data: spec.npz,
      "feature stats": statsSource,
    },
    dataset: () => sequenceFileInput(spec.npz, keys, data, "evaluation"),
  };
}

/** Artifact folder name under `evaluations/`: the data file's name without extension. */
export function evaluationName(spec: Pick<EvaluateJobSpec, "predictions" | "npz">): string {
  const path = spec.predictions || spec.npz;
  const base = path.split("/").pop() ?? "data";
  return base.replace(/\.[^.]+$/, "") || "data";
}

/** Builds and writes the bundle; attaches it to `spec.mlflowRunId` when given. */
export async function runEvaluateJob(
  spec: EvaluateJobSpec,
  options: EvaluateJobOptions = {},
): Promise<EvaluateJobResult> {
  const label = (key: keyof EvaluateJobSpec) => options.labels?.[key] ?? key;
  const log = options.log ?? (() => {});
  let input: Evaluated;
  if (spec.predictions !== "") {
    const text = await readText(spec.predictions, label("predictions"));
    const table = parsePredictionsCsv(text, spec.predictions);
    const k = table.probabilities[0].length;
    const task = (await readTaskFile(spec, label)) ?? defaultTask(k);
    if (task.classNames.length !== k) {
      throw new RangeError(
        `Cannot use ${label("task")} ${spec.task} with ${label("predictions")} ` +
          `${spec.predictions}: the task names ${task.classNames.length} classes, the file has ` +
          `${k} probability columns`,
      );
    }
    input = {
      ...table,
      task,
      meta: { predictions: spec.predictions },
      dataset: () => predictionsFileInput(spec.predictions, text, table, "evaluation"),
    };
  } else {
    input = await predictFromCheckpoint(spec, label, log);
  }
  const bundle = buildEvaluationBundle({
    ...input,
    nBins: spec.nBins,
    meta: {
      ...input.meta,
      ...(spec.mlflowRunId ? { "mlflow run": spec.mlflowRunId } : {}),
      created: new Date().toISOString(),
    },
  });
  const written = await writeEvaluationBundle(spec.outputDir, bundle.files);
  if (spec.mlflowRunId === "") return { bundle, written, attached: null };
  const store = await openTrackingStore(
    spec.mlflowTrackingUri,
    options.env ?? Deno.env.toObject(),
    { readOnly: true },
  );
  const attached = await attachEvaluation(store, spec.mlflowRunId, evaluationName(spec), bundle);
  await store.logInputs(spec.mlflowRunId, [await input.dataset()]);
  return { bundle, written, attached: { ...attached, location: store.location } };
}
