/**
 * Deno edge of "evaluate a checkpoint into a bundle and attach it": predicts an npz with a
 * checkpoint (a folder of ours, or a `.pt` of ours or of the PyTorch pipeline, e.g.
 * `artifacts/best.pt`; read with the same checked loader as training, transformed with the
 * checkpoint's feature stats) or re-reads a `predictions.csv`, writes the evaluation
 * bundle, and, given a run (id or name), uploads it to that MLflow run. The run is found,
 * and the checkpoint checked to belong to it, before anything is computed or written.
 * `cli/evaluate.ts` parses the flags and prints.
 *
 * @module
 */
import { parseFeatureStats } from "../data/feature_stats.ts";
import { loadSequenceFile } from "../data/load_sequences_deno.ts";
import type { SequenceKeys } from "../data/sequence_dataset.ts";
import { applyTemperature } from "../metrics/calibration.ts";
import { defaultTask, parseTask, type Task } from "../metrics/task.ts";
import {
  buildEvaluationBundle,
  type EvaluationBundle,
  type EvaluationInput,
} from "../report/evaluation_bundle.ts";
import { denoSvgRasterizer } from "../report/png_assets_deno.ts";
import { addPngPlots } from "../report/png_plots.ts";
import { parsePredictionsCsv } from "../report/predictions_csv.ts";
import { writeEvaluationBundle } from "../report/write_evaluation_bundle_deno.ts";
import { parseDevice, type RuntimeInfo, selectBackend } from "../runtime/backend.ts";
import { resolveRun } from "../review/run_review.ts";
import { MlflowRequestError } from "../tracking/mlflow_request_error.ts";
import { openTrackingStore } from "../tracking/open_tracking_store_deno.ts";
import type { MlflowRun, TrackingStore } from "../tracking/tracking_store.ts";
import { predictLogProbabilities } from "../train/validate.ts";
import type { MlflowDatasetInput } from "../tracking/tracking_store.ts";
import { type AttachedEvaluation, attachEvaluation } from "./attach_evaluation.ts";
import { predictionsFileInput, sequenceFileInput } from "./dataset_inputs_deno.ts";
import { type LoadedCheckpoint, loadEvaluationCheckpoint } from "./evaluation_checkpoint_deno.ts";

/** What to evaluate, where the bundle goes and which run it is attached to. */
export interface EvaluateJobSpec {
  /**
   * A checkpoint folder (or a file in it), or a `.pt` file (ours or the pipeline's); needs
   * `npz`. "" when `predictions` is given.
   */
  readonly checkpoint: string;
  readonly npz: string;
  /**
   * "" = the checkpoint's own feature_stats.json (for a `.pt`: the one beside it, where the
   * pipeline writes it), else artifacts/feature_stats.json.
   */
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
  /** The run to attach the bundle to, by id or by name (in `mlflowExperiment`); "" = none. */
  readonly mlflowRunId: string;
  /** The experiment a run name is looked up in. */
  readonly mlflowExperiment: string;
  /** "" = `MLFLOW_TRACKING_URI`, else `./mlruns`. */
  readonly mlflowTrackingUri: string;
  /** Attach a checkpoint of another run (or of none) anyway; recorded as a run tag. */
  readonly force: boolean;
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
  /** The upload to the run, with the store's location and run; null without a run. */
  readonly attached:
    | (AttachedEvaluation & {
      readonly location: string;
      readonly runId: string;
      readonly runName: string;
      /** Lines to print: a folder taken already, a forced attachment. */
      readonly notes: readonly string[];
    })
    | null;
}

/** Tag on a run that received the evaluation of another run's checkpoint with `--force`. */
export const FORCED_EVALUATION_TAG_PREFIX = "evaluation.forced.";

async function readText(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (cause) {
    throw new Error(`Cannot read ${what} ${path}: ${(cause as Error).message}`, { cause });
  }
}

/** The run `ref` names: an id when one exists with it, else a name in `experiment`. */
async function findRun(store: TrackingStore, ref: string, experiment: string): Promise<MlflowRun> {
  if (/^[0-9a-f]{32}$/i.test(ref)) {
    try {
      return await store.getRun(ref);
    } catch (error) {
      const missing = error instanceof RangeError ||
        (error instanceof MlflowRequestError && error.errorCode === "RESOURCE_DOES_NOT_EXIST");
      if (!missing) throw error;
    }
  }
  try {
    return await resolveRun(store, experiment, { runName: ref });
  } catch (cause) {
    throw new RangeError(
      `Cannot find the run ${JSON.stringify(ref)} in ${store.location}: no run has that id, ` +
        `and by name: ${(cause as Error).message}`,
      { cause },
    );
  }
}

/**
 * Refuses to attach the evaluation of a checkpoint that belongs to another run (or to
 * none) unless `force`; returns the note to print and the tag to set when forced.
 */
function checkCheckpointRun(
  checkpoint: LoadedCheckpoint,
  run: MlflowRun,
  force: boolean,
  label: (key: keyof EvaluateJobSpec) => string,
): { note: string; tag: string } | null {
  const { path: dir, runId: owner } = checkpoint;
  if (owner === run.info.runId) return null;
  const whose = owner === null
    ? checkpoint.torch
      ? "is a .pt, which records no MLflow run"
      : "records no MLflow run (trained without --mlflow, or before checkpoints recorded it)"
    : `belongs to run ${owner}`;
  const target = `run ${run.info.runName || "(unnamed)"} (${run.info.runId})`;
  if (!force) {
    throw new RangeError(
      `Cannot attach the evaluation of checkpoint ${dir} to ${target}: the checkpoint ` +
        `${whose}; ${owner === null ? "" : `pass ${label("mlflowRunId")} ${owner}, or `}pass ${
          label("force")
        } to attach it anyway (recorded as a run tag)`,
    );
  }
  return {
    note: `${label("force")}: attaching checkpoint ${dir}, which ${whose}, to ${target}`,
    tag: owner === null ? "checkpoint of no MLflow run" : `checkpoint of run ${owner}`,
  };
}

/**
 * The artifact folder under `evaluations/` for this bundle: the data file's name, or with
 * `-2`, `-3`, ... when the run holds an evaluation by that name already (never replaced).
 */
async function freeEvaluationName(
  store: TrackingStore,
  runId: string,
  name: string,
): Promise<string> {
  const taken = new Set(
    (await store.listArtifacts(runId, "evaluations")).map((e) => e.path.split("/").pop()),
  );
  let free = name;
  for (let k = 2; taken.has(free); k++) free = `${name}-${k}`;
  return free;
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
  checkpoint: LoadedCheckpoint,
  label: (key: keyof EvaluateJobSpec) => string,
  log: (line: string) => void,
): Promise<Evaluated> {
  const k = checkpoint.numClasses;
  const taskFile = await readTaskFile(spec, label);
  if (taskFile && taskFile.classNames.length !== k) {
    throw new RangeError(
      `Cannot use ${label("task")} ${spec.task} with checkpoint ${spec.checkpoint}: the task ` +
        `names ${taskFile.classNames.length} classes, the model predicts ${k}`,
    );
  }
  const task = taskFile ?? checkpoint.task ?? defaultTask(k);
  let statsText: string;
  let statsSource: string;
  if (spec.featureStats !== "") {
    statsText = await readText(spec.featureStats, label("featureStats"));
    statsSource = spec.featureStats;
  } else if (checkpoint.stats) {
    statsText = checkpoint.stats.text;
    statsSource = checkpoint.stats.source;
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
  const saved: SequenceKeys = checkpoint.keys;
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
  const runtime: RuntimeInfo = await selectBackend(parseDevice(spec.device), {
    device: spec.device,
  });
  log(
    `Backend: ${runtime.backend}${
      runtime.adapter ? ` (${runtime.adapter})` : ""
    }: ${runtime.reason}`,
  );
  const model = checkpoint.restore();
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
      checkpoint: checkpoint.describe,
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

/**
 * Builds and writes the bundle; attaches it to the run `spec.mlflowRunId` names when given
 * (found first, so that a wrong run or a checkpoint of another run fails before any work).
 */
export async function runEvaluateJob(
  spec: EvaluateJobSpec,
  options: EvaluateJobOptions = {},
): Promise<EvaluateJobResult> {
  const label = (key: keyof EvaluateJobSpec) => options.labels?.[key] ?? key;
  const log = options.log ?? (() => {});
  const loaded = spec.predictions === ""
    ? await loadEvaluationCheckpoint(spec.checkpoint, label("checkpoint"))
    : null;
  let target: { store: TrackingStore; run: MlflowRun } | null = null;
  let forced: { note: string; tag: string } | null = null;
  if (spec.mlflowRunId !== "") {
    const store = await openTrackingStore(
      spec.mlflowTrackingUri,
      options.env ?? Deno.env.toObject(),
      { readOnly: true },
    );
    const run = await findRun(store, spec.mlflowRunId, spec.mlflowExperiment);
    if (loaded) forced = checkCheckpointRun(loaded, run, spec.force, label);
    target = { store, run };
  }
  let input: Evaluated;
  if (loaded === null) {
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
    input = await predictFromCheckpoint(spec, loaded, label, log);
  }
  const bundle = buildEvaluationBundle({
    ...input,
    nBins: spec.nBins,
    meta: {
      ...input.meta,
      ...(target ? { "mlflow run": `${target.run.info.runName} (${target.run.info.runId})` } : {}),
      created: new Date().toISOString(),
    },
  });
  // PNG copies of the SVG plots, as the pipeline's bundles had (written and logged alike).
  addPngPlots(bundle.files, await denoSvgRasterizer());
  const written = await writeEvaluationBundle(spec.outputDir, bundle.files);
  if (target === null) return { bundle, written, attached: null };
  const { store, run } = target;
  const { runId, runName } = run.info;
  const wanted = evaluationName(spec);
  const name = await freeEvaluationName(store, runId, wanted);
  const notes: string[] = [];
  if (name !== wanted) {
    notes.push(
      `evaluations/${wanted}/ of the run holds an earlier evaluation; this one goes to ` +
        `evaluations/${name}/ (nothing is replaced)`,
    );
  }
  if (forced) {
    notes.push(forced.note);
    await store.logBatch(runId, {
      tags: { [`${FORCED_EVALUATION_TAG_PREFIX}${name}`]: forced.tag },
    });
  }
  const attached = await attachEvaluation(store, runId, name, bundle);
  await store.logInputs(runId, [await input.dataset()]);
  return {
    bundle,
    written,
    attached: { ...attached, location: store.location, runId, runName, notes },
  };
}
