/**
 * `deno task evaluate`: writes the evaluation bundle (metrics, curves, plots, index.html)
 * for a checkpoint on an npz file, or for an existing `predictions.csv`; optionally uploads
 * it to an MLflow run. Flag parsing and wiring only: the work is in `src/report/`.
 *
 * @module
 */
import { parseArgs } from "#args";
import {
  buildEvaluationBundle,
  type EvaluationInput,
  parsePredictionsCsv,
  summaryToMlflowMetrics,
} from "../src/report/mod.ts";
import { writeEvaluationBundle } from "../src/report/write_evaluation_bundle_deno.ts";
import { openTrackingStore } from "../src/tracking/open_tracking_store_deno.ts";
import { createSequenceDataset, parseFeatureStats, transformFeatures } from "../src/data/mod.ts";
import { readNpz } from "../src/npz/mod.ts";
import { parseDevice, selectBackend } from "../src/runtime/mod.ts";
import { predictProbabilities, readCheckpoint, restoreClassifier } from "../src/train/mod.ts";
import { readCheckpointDir } from "../src/train/checkpoint_dir_deno.ts";

/** The resolved flags of `deno task evaluate`. */
export interface EvaluateCliOptions {
  readonly checkpoint: string;
  readonly npz: string;
  /** "" = the checkpoint's own feature_stats.json, else artifacts/feature_stats.json. */
  readonly featureStats: string;
  readonly xKey: string;
  readonly yKey: string;
  readonly lengthsKey: string;
  readonly predictions: string;
  readonly outputDir: string;
  readonly batchSize: number;
  readonly device: string;
  readonly nBins: number;
  readonly mlflowRunId: string;
  readonly mlflowTrackingUri: string;
  readonly help: boolean;
}

/** `--help` text: documents every flag. */
export const EVALUATE_HELP =
  `deno task evaluate: evaluation bundle for a checkpoint (or a predictions.csv)

Usage:
  deno task evaluate --checkpoint <dir|file> --npz <file> [--feature-stats <json>]
                     --output-dir <dir> [options]
  deno task evaluate --predictions <predictions.csv> --output-dir <dir> [options]

Inputs (one of):
  --checkpoint <path>        checkpoint directory (e.g. artifacts/best) or file to evaluate
  --npz <file>               sequences to predict on (e.g. data/val_sequences.npz); needs --checkpoint
  --feature-stats <json>     feature statistics for the load-time transform (default: the
                             checkpoint's feature_stats.json, else artifacts/feature_stats.json)
  --x-key, --y-key, --lengths-key <name>
                             npz member names (default: the checkpoint's training config,
                             else sequences, labels, seq_lengths; a mask member also works)
  --predictions <csv>        re-evaluate an existing predictions.csv
                             (columns vehicle_id,label,pred,p0..p4) instead of predicting

Output:
  --output-dir <dir>         where the bundle is written (required), e.g.
                             artifacts/evaluations/<run>
  --reliability-bins <n>     bins of the reliability diagram (default 10)

Prediction:
  --batch-size <n>           windows per forward pass (default 256)
  --device <name>            cuda|gpu|webgpu (WebGPU), cpu (wasm); unset = auto

MLflow (optional):
  --mlflow-run-id <id>       upload the bundle to evaluations/<data file name>/ of this
                             run (e.g. evaluations/val_sequences/) and log eval_macro_f1,
                             eval_cost, ... on it
  --mlflow-tracking-uri <u>  tracking server (default: MLFLOW_TRACKING_URI, else ./mlruns)

  -h, --help                 show this help

Writes: index.html, summary_metrics.json, classification_report.json,
classification_report_min_cost.json, confusion_matrix.csv, confusion_matrix_min_cost.csv,
roc_curves.json, pr_curves.json, reliability.json, predictions.csv and SVG plots.
`;

const FLAGS = {
  checkpoint: { type: "string" },
  npz: { type: "string" },
  "feature-stats": { type: "string" },
  "x-key": { type: "string" },
  "y-key": { type: "string" },
  "lengths-key": { type: "string" },
  predictions: { type: "string" },
  "output-dir": { type: "string" },
  "batch-size": { type: "string" },
  device: { type: "string" },
  "reliability-bins": { type: "string" },
  "mlflow-run-id": { type: "string" },
  "mlflow-tracking-uri": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const allowedFlags = () => Object.keys(FLAGS).map((f) => `--${f}`).join(", ");

function positiveInt(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(
      `Cannot parse --${flag}: expected a positive integer, received "${value}"`,
    );
  }
  return n;
}

/** Parses argv into {@link EvaluateCliOptions}; unknown flags and bad values throw. */
export function parseEvaluateArgs(args: string[]): EvaluateCliOptions {
  let values;
  try {
    ({ values } = parseArgs({ args, options: FLAGS, strict: true, allowPositionals: false }));
  } catch (cause) {
    throw new TypeError(
      `Cannot parse evaluate flags: ${(cause as Error).message}. Allowed flags: ${allowedFlags()}`,
      { cause },
    );
  }
  const device = values.device ?? "";
  parseDevice(device);
  const options: EvaluateCliOptions = {
    checkpoint: values.checkpoint ?? "",
    npz: values.npz ?? "",
    featureStats: values["feature-stats"] ?? "",
    xKey: values["x-key"] ?? "",
    yKey: values["y-key"] ?? "",
    lengthsKey: values["lengths-key"] ?? "",
    predictions: values.predictions ?? "",
    outputDir: values["output-dir"] ?? "",
    batchSize: positiveInt("batch-size", values["batch-size"], 256),
    device,
    nBins: positiveInt("reliability-bins", values["reliability-bins"], 10),
    mlflowRunId: values["mlflow-run-id"] ?? "",
    mlflowTrackingUri: values["mlflow-tracking-uri"] ?? "",
    help: values.help ?? false,
  };
  if (options.help) return options;
  if (options.outputDir === "") {
    throw new TypeError(
      "Cannot evaluate: --output-dir is required (e.g. --output-dir artifacts/evaluations/<run>)",
    );
  }
  const fromCheckpoint = options.checkpoint !== "" || options.npz !== "";
  if (fromCheckpoint === (options.predictions !== "")) {
    throw new TypeError(
      "Cannot evaluate: pass either --checkpoint with --npz, or --predictions, " +
        `received ${fromCheckpoint ? "both" : "neither"}`,
    );
  }
  if (fromCheckpoint && (options.checkpoint === "" || options.npz === "")) {
    throw new TypeError(
      `Cannot evaluate: --checkpoint and --npz go together, received only ` +
        `${options.checkpoint === "" ? "--npz" : "--checkpoint"}`,
    );
  }
  return options;
}

async function readText(path: string, flag: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (cause) {
    throw new Error(`Cannot read --${flag} ${path}: ${(cause as Error).message}`, { cause });
  }
}

async function loadPredictions(options: EvaluateCliOptions): Promise<EvaluationInput> {
  if (options.predictions !== "") {
    const table = parsePredictionsCsv(
      await readText(options.predictions, "predictions"),
      options.predictions,
    );
    return { ...table, meta: { predictions: options.predictions } };
  }
  return await predictFromCheckpoint(options);
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

async function predictFromCheckpoint(options: EvaluateCliOptions): Promise<EvaluationInput> {
  const dir = await checkpointFolder(options.checkpoint);
  const files = await readCheckpointDir(dir);
  const checkpoint = readCheckpoint(files);
  let statsText: string;
  let statsSource: string;
  if (options.featureStats !== "") {
    statsText = await readText(options.featureStats, "feature-stats");
    statsSource = options.featureStats;
  } else if (files["feature_stats.json"]) {
    statsText = new TextDecoder().decode(files["feature_stats.json"]);
    statsSource = `${dir}/feature_stats.json`;
  } else {
    statsSource = "artifacts/feature_stats.json";
    statsText = await readText(statsSource, "feature-stats");
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
  const stats = parseFeatureStats(statsJson);
  let npzBytes: Uint8Array;
  try {
    npzBytes = await Deno.readFile(options.npz);
  } catch (cause) {
    throw new Error(`Cannot read --npz ${options.npz}: ${(cause as Error).message}`, { cause });
  }
  const arrays = readNpz(npzBytes);
  const data = createSequenceDataset(arrays, {
    xKey: options.xKey || checkpoint.config.xKey || undefined,
    yKey: options.yKey || checkpoint.config.yKey || undefined,
    lengthsKey: options.lengthsKey || checkpoint.config.lengthsKey || undefined,
    numClasses: checkpoint.modelConfig.numClasses,
    source: `--npz ${options.npz}`,
  });
  transformFeatures(data.x, [data.size, data.steps, data.features], data.lengths, stats);
  const runtime = await selectBackend(parseDevice(options.device));
  console.log(
    `Backend: ${runtime.backend}${
      runtime.adapter ? ` (${runtime.adapter})` : ""
    }: ${runtime.reason}`,
  );
  const model = restoreClassifier(checkpoint);
  let probabilities: Float32Array[];
  try {
    probabilities = await predictProbabilities(model, data, { batchSize: options.batchSize });
  } finally {
    model.dispose();
  }
  const ids = arrays.vehicle_ids;
  return {
    labels: data.labels,
    probabilities,
    vehicleIds: ids && ids.data.length === data.size
      ? (ids.data as ArrayLike<number | bigint>)
      : undefined,
    meta: {
      checkpoint: `${dir} (epoch ${checkpoint.epoch}, best val macro-F1 ${
        checkpoint.bestValF1.toFixed(4)
      })`,
      data: options.npz,
      "feature stats": statsSource,
    },
  };
}

/** Artifact folder name under `evaluations/`: the data file's name without extension. */
function evaluationName(options: EvaluateCliOptions): string {
  const path = options.predictions || options.npz;
  const base = path.split("/").pop() ?? "data";
  return base.replace(/\.[^.]+$/, "") || "data";
}

/** Runs the command; returns the exit code. Only this function catches. */
export async function main(args: string[]): Promise<number> {
  try {
    const options = parseEvaluateArgs(args);
    if (options.help) {
      console.log(EVALUATE_HELP);
      return 0;
    }
    const input = await loadPredictions(options);
    const bundle = buildEvaluationBundle({
      ...input,
      nBins: options.nBins,
      meta: {
        ...input.meta,
        ...(options.mlflowRunId ? { "mlflow run": options.mlflowRunId } : {}),
        created: new Date().toISOString(),
      },
    });
    await writeEvaluationBundle(options.outputDir, bundle.files);
    const s = bundle.summary;
    console.log(
      `Evaluated ${s.n_samples} windows: macro-F1 ${s.macro_f1.toFixed(4)}, ` +
        `weighted F1 ${s.weighted_f1.toFixed(4)}, accuracy ${s.accuracy.toFixed(4)}, ` +
        `cost ${s.total_cost}; min-expected-cost rule: macro-F1 ` +
        `${s.min_cost_macro_f1.toFixed(4)}, cost ${s.min_cost_total_cost} ` +
        `(always-0 baseline: macro-F1 ${
          s.baseline_macro_f1.toFixed(4)
        }, cost ${s.baseline_total_cost})`,
    );
    console.log(`Bundle: ${options.outputDir}/index.html`);
    if (options.mlflowRunId !== "") {
      const store = await openTrackingStore(options.mlflowTrackingUri, Deno.env.toObject(), {
        readOnly: true,
      });
      const folder = `evaluations/${evaluationName(options)}`;
      for (const [name, bytes] of bundle.files) {
        await store.uploadArtifact(options.mlflowRunId, `${folder}/${name}`, bytes);
      }
      const metrics = summaryToMlflowMetrics(bundle.summary);
      const timestamp = Date.now();
      await store.logBatch(options.mlflowRunId, {
        metrics: Object.entries(metrics).map(([key, value]) => ({
          key,
          value,
          timestamp,
          step: 0,
        })),
      });
      console.log(
        `Uploaded ${bundle.files.size} files to ${folder}/ of run ${options.mlflowRunId} ` +
          `and logged ${Object.keys(metrics).join(", ")} (${store.location})`,
      );
    }
    return 0;
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
