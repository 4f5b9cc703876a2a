/**
 * `deno task evaluate`: writes the evaluation bundle (metrics, curves, plots, index.html)
 * for a checkpoint on an npz file, or for an existing `predictions.csv`; optionally uploads
 * it to an MLflow run. Flag parsing and printing only: the job is in
 * `src/jobs/evaluate_job_deno.ts`.
 *
 * @module
 */
import { parseArgs } from "#args";
import {
  type EvaluateJobLabels,
  type EvaluateJobSpec,
  runEvaluateJob,
} from "../src/jobs/evaluate_job_deno.ts";
import type { SummaryMetrics } from "../src/report/summary_metrics.ts";
import { parseDevice } from "../src/runtime/backend.ts";
import { expandAbbreviations } from "./_abbreviations.ts";

/** The resolved flags of `deno task evaluate`: the job's spec, plus `--help`. */
export interface EvaluateCliOptions extends EvaluateJobSpec {
  readonly help: boolean;
}

/** `--help` text: documents every flag. */
export const EVALUATE_HELP =
  `deno task evaluate: evaluation bundle for a checkpoint (or a predictions.csv)

Usage:
  deno task evaluate --checkpoint <dir|file.pt> --npz <file> [--feature-stats <json>]
                     [--output-dir <dir>] [options]
  deno task evaluate --predictions <predictions.csv> [--output-dir <dir>] [options]

Flags may be abbreviated to any unambiguous prefix, as argparse allows.

Inputs (one of):
  --checkpoint <path>        checkpoint directory (e.g. artifacts/best), or a .pt file of
                             ours or of the PyTorch pipeline (e.g. artifacts/best.pt: its
                             forward and config come from the file's args)
  --npz <file>               sequences to predict on (e.g. data/val_sequences.npz); needs --checkpoint
  --feature-stats <json>     feature statistics for the load-time transform (default: the
                             checkpoint's feature_stats.json (for a .pt: the one beside it),
                             else artifacts/feature_stats.json)
  --x-key, --y-key, --lengths-key <name>
                             npz member names (default: the checkpoint's training config,
                             else sequences, labels, seq_lengths; a mask member also works)
  --predictions <csv>        re-evaluate an existing predictions.csv
                             (columns vehicle_id,label,pred,p0..p{K-1}, optionally
                             cal_p0..cal_p{K-1}) instead of predicting
  --task <json>              task file (class_names, cost_matrix; see deno task train --help)
                             to evaluate under (default: the checkpoint's task; for
                             --predictions, Component X's for 5 classes, else K classes
                             without costs)

Output:
  --output-dir <dir>         where the bundle is written (default artifacts/evaluations, as
                             the pipeline), e.g. artifacts/evaluations/<run>
  --calibration-bins <n>     bins of the reliability diagram (default 15, as the pipeline;
                             --reliability-bins is the same flag's old name)

Prediction:
  --batch-size <n>           windows per forward pass (default 256)
  --device <name>            cuda|gpu (WebGPU on a hardware adapter, else an error), webgpu
                             (any adapter), cpu (wasm); unset = auto
  --num-workers <n>          accepted for the pipeline's command lines; no effect (there are
                             no data-loader workers: the npz is read once)

MLflow (optional):
  --mlflow-run-id <id|name>  upload the bundle to evaluations/<data file name>/ of this run
                             (e.g. evaluations/val_sequences/; when the run holds one by that
                             name already, evaluations/val_sequences-2/ and so on: nothing is
                             replaced) and log eval_macro_f1, eval_cost, ... on it; a run id,
                             or a run name looked up in --mlflow-experiment. The checkpoint
                             must belong to that run (its state.json records the run)
  --mlflow-experiment <name> experiment of a run name (default: MLFLOW_EXPERIMENT_NAME, else
                             component-x-lstm)
  --mlflow-tracking-uri <u>  tracking server (default: MLFLOW_TRACKING_URI, else ./mlruns)
  --force                    attach a checkpoint of another run (or of none) anyway; recorded
                             as the run tag evaluation.forced.<folder>

  -h, --help                 show this help

Writes: index.html, summary_metrics.json, task.json, classification_report.json (keyed by
class names), confusion_matrix.csv (a bare integer matrix, as np.savetxt writes it),
confusion_matrix_labeled.csv, roc_curves.json, pr_curves.json, reliability.json,
predictions.csv and SVG plots with a PNG beside each; with a cost matrix also
classification_report_min_cost.json and confusion_matrix_min_cost.csv/.svg (the
minimum-expected-cost rule, on the calibrated probabilities when the checkpoint holds a
temperature); with a temperature also reliability_calibrated.json.
`;

const FLAGS = {
  checkpoint: { type: "string" },
  npz: { type: "string" },
  "feature-stats": { type: "string" },
  "x-key": { type: "string" },
  "y-key": { type: "string" },
  "lengths-key": { type: "string" },
  predictions: { type: "string" },
  task: { type: "string" },
  "output-dir": { type: "string" },
  "batch-size": { type: "string" },
  device: { type: "string" },
  "calibration-bins": { type: "string" },
  "reliability-bins": { type: "string" },
  "num-workers": { type: "string" },
  "mlflow-run-id": { type: "string" },
  "mlflow-experiment": { type: "string" },
  "mlflow-tracking-uri": { type: "string" },
  force: { type: "boolean" },
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

/** `--num-workers`: checked like argparse's `type=int` (>= 0), then ignored. */
function positiveIntOrZero(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new RangeError(
      `Cannot parse --num-workers: expected an integer >= 0, received "${value}"`,
    );
  }
  return n;
}

/**
 * Parses argv into {@link EvaluateCliOptions}; unknown flags and bad values throw. `env`
 * supplies the MLFLOW_EXPERIMENT_NAME default.
 */
export function parseEvaluateArgs(
  args: string[],
  env: Readonly<Record<string, string | undefined>> = {},
): EvaluateCliOptions {
  let values;
  try {
    const valueFlags = Object.entries(FLAGS).filter(([, o]) => o.type === "string").map(([f]) => f);
    const full = expandAbbreviations(args, Object.keys(FLAGS), valueFlags);
    ({ values } = parseArgs({ args: full, options: FLAGS, strict: true, allowPositionals: false }));
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
    task: values.task ?? "",
    outputDir: values["output-dir"] ?? "artifacts/evaluations",
    batchSize: positiveInt("batch-size", values["batch-size"], 256),
    device,
    nBins: values["reliability-bins"] !== undefined
      ? positiveInt("reliability-bins", values["reliability-bins"], 15)
      : positiveInt("calibration-bins", values["calibration-bins"], 15),
    mlflowRunId: values["mlflow-run-id"] ?? "",
    mlflowExperiment: values["mlflow-experiment"] ?? env.MLFLOW_EXPERIMENT_NAME ??
      "component-x-lstm",
    mlflowTrackingUri: values["mlflow-tracking-uri"] ?? "",
    force: values.force ?? false,
    help: values.help ?? false,
  };
  if (options.help) return options;
  if (values["num-workers"] !== undefined) positiveIntOrZero(values["num-workers"]);
  if (options.outputDir === "") {
    throw new TypeError(
      'Cannot use --output-dir "": expected a folder (default artifacts/evaluations)',
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

/** The flag of each job setting, for the job's errors. */
const EVALUATE_FLAGS: EvaluateJobLabels = {
  checkpoint: "--checkpoint",
  npz: "--npz",
  featureStats: "--feature-stats",
  xKey: "--x-key",
  yKey: "--y-key",
  lengthsKey: "--lengths-key",
  predictions: "--predictions",
  task: "--task",
  outputDir: "--output-dir",
  mlflowRunId: "--mlflow-run-id",
  force: "--force",
};

/** What evaluate prints about a bundle: both rules, the baseline and calibration. */
export function summaryLines(s: SummaryMetrics): string[] {
  const cost = (v: number | undefined) => (v === undefined ? "" : `, cost ${v}`);
  const baseline = `always-majority baseline (class ${s.baseline_class}): macro-F1 ` +
    `${s.baseline_macro_f1.toFixed(4)}${cost(s.baseline_total_cost)}`;
  const verdict = (ok: boolean | undefined) => (ok ? "beats" : "does not beat");
  const lines = [
    `Evaluated ${s.n_samples} windows (task ${s.task}, ${s.num_classes} classes): ` +
    `argmax rule macro-F1 ${s.macro_f1.toFixed(4)}, weighted F1 ${s.weighted_f1.toFixed(4)}, ` +
    `accuracy ${s.accuracy.toFixed(4)}${cost(s.total_cost)} (${
      verdict(s.argmax_beats_baseline)
    } the baseline)`,
  ];
  if (s.min_cost_macro_f1 !== undefined) {
    lines.push(
      `min-expected-cost rule (${s.min_cost_probabilities} probabilities): macro-F1 ` +
        `${s.min_cost_macro_f1.toFixed(4)}${cost(s.min_cost_total_cost)} (${
          verdict(s.min_cost_beats_baseline)
        } the baseline)`,
    );
  }
  lines.push(baseline);
  lines.push(
    s.calibrated_ece === undefined
      ? `calibration: ECE ${s.ece.toFixed(4)}, NLL ${s.nll.toFixed(4)} (no temperature)`
      : `calibration${
        s.temperature === null ? "" : ` (temperature ${s.temperature.toFixed(4)})`
      }: ECE ${s.ece.toFixed(4)} -> ${s.calibrated_ece.toFixed(4)}, NLL ${s.nll.toFixed(4)} -> ${
        s.calibrated_nll!.toFixed(4)
      }`,
  );
  return lines;
}

/** Runs the command; returns the exit code. Only this function catches. */
export async function main(args: string[]): Promise<number> {
  try {
    const options = parseEvaluateArgs(args, Deno.env.toObject());
    if (options.help) {
      console.log(EVALUATE_HELP);
      return 0;
    }
    const { help: _, ...spec } = options;
    const { bundle, attached } = await runEvaluateJob(spec, {
      log: (line) => console.log(line),
      labels: EVALUATE_FLAGS,
    });
    for (const line of summaryLines(bundle.summary)) console.log(line);
    console.log(`Bundle: ${options.outputDir}/index.html`);
    if (attached) {
      for (const note of attached.notes) console.log(note);
      console.log(
        `Uploaded ${attached.files} files to ${attached.folder}/ of run ` +
          `${attached.runName || "(unnamed)"} (${attached.runId}) and logged ` +
          `${attached.metrics.join(", ")} (${attached.location})`,
      );
    }
    return 0;
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
