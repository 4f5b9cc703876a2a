/**
 * The evaluation bundle: every file `deno task evaluate` writes, built from predictions.
 *
 * @module
 */
import { negativeLogLikelihood } from "../metrics/calibration.ts";
import {
  accuracy,
  argmaxDecision,
  type ClassificationReport,
  classificationReport,
  type ConfusionMatrix,
  confusionMatrix,
  macroF1,
  majorityClass,
  minExpectedCostDecision,
  totalCost,
  weightedF1,
} from "../metrics/metrics.ts";
import { oneVsRestPrecisionRecall, oneVsRestRoc } from "../metrics/one_vs_rest.ts";
import { reliabilityDiagram } from "../metrics/reliability.ts";
import { defaultTask, type Task, taskToJson } from "../metrics/task.ts";
import {
  bareConfusionCsv,
  json,
  labeledConfusionCsv,
  predictionsCsv,
  reliabilityJson,
} from "./_bundle_text.ts";
import { evaluationIndexHtml } from "./evaluation_index_html.ts";
import { confusionMatrixSvg, curvesSvg, reliabilitySvg } from "./plots.ts";
import type { SummaryMetrics } from "./summary_metrics.ts";

/** Predictions to evaluate: one row per window. */
export interface EvaluationInput {
  /** True classes, 0..K-1. */
  labels: ArrayLike<number | bigint>;
  /** The model's class probabilities (T = 1), one row of K per window. */
  probabilities: ArrayLike<ArrayLike<number>>;
  /**
   * The temperature-scaled probabilities (`softmax(logits / T)`), when the checkpoint holds
   * a temperature: the min-expected-cost rule uses them, and the bundle reports calibration
   * before and after.
   */
  calibratedProbabilities?: ArrayLike<ArrayLike<number>>;
  /** The temperature behind `calibratedProbabilities` (for the report), if known. */
  temperature?: number | null;
  /** Vehicle id of each window, for `predictions.csv` (row index when absent). */
  vehicleIds?: ArrayLike<number | bigint>;
  /** Class names, cost matrix: default `defaultTask(K)` (Component X for K = 5). */
  task?: Task;
  /** Reliability bins (default 10). */
  nBins?: number;
  /** Shown in `index.html` (checkpoint, data file, run id, created at, ...). */
  meta?: Record<string, string>;
}

/** The bundle: file name -> bytes, plus the parsed pieces for callers that log them. */
export interface EvaluationBundle {
  files: Map<string, Uint8Array>;
  summary: SummaryMetrics;
  report: ClassificationReport;
  confusion: ConfusionMatrix;
  task: Task;
}

/**
 * Every file a bundle may hold, in the order `index.html` lists them. The `*min_cost*`
 * files need a cost matrix, `reliability_calibrated.json` a temperature.
 */
export const EVALUATION_BUNDLE_FILES: readonly string[] = Object.freeze([
  "index.html",
  "summary_metrics.json",
  "task.json",
  "classification_report.json",
  "classification_report_min_cost.json",
  "confusion_matrix.csv",
  "confusion_matrix_labeled.csv",
  "confusion_matrix_min_cost.csv",
  "roc_curves.json",
  "pr_curves.json",
  "reliability.json",
  "reliability_calibrated.json",
  "predictions.csv",
  "confusion_matrix.svg",
  "confusion_matrix_normalized.svg",
  "confusion_matrix_min_cost.svg",
  "roc_curves.svg",
  "pr_curves.svg",
  "reliability.svg",
]);

const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;

function checkInput(input: EvaluationInput): { n: number; k: number; task: Task } {
  const n = input.labels.length;
  const fail = (what: string): never => {
    throw new RangeError(`Cannot build evaluation bundle: ${what}`);
  };
  if (n === 0 || input.probabilities.length !== n) {
    fail(
      `expected as many probability rows as labels (at least 1), received ` +
        `${input.probabilities.length} rows and ${n} labels`,
    );
  }
  if (input.vehicleIds && input.vehicleIds.length !== n) {
    fail(`expected ${n} vehicle ids (one per label), received ${input.vehicleIds.length}`);
  }
  const k = input.probabilities[0].length;
  const task = input.task ?? defaultTask(k);
  if (task.classNames.length !== k) {
    fail(
      `the probabilities have ${k} classes but the task ${task.name} names ` +
        `${task.classNames.length}`,
    );
  }
  const rowsOk = (rows: ArrayLike<ArrayLike<number>>, what: string) => {
    if (rows.length !== n) fail(`expected ${n} rows of ${what}, received ${rows.length}`);
    for (let i = 0; i < n; i++) {
      if (rows[i].length !== k) fail(`${what} row ${i} has ${rows[i].length} values, not ${k}`);
    }
  };
  rowsOk(input.probabilities, "probabilities");
  if (input.calibratedProbabilities) {
    rowsOk(input.calibratedProbabilities, "calibrated probabilities");
  }
  return { n, k, task };
}

/**
 * Builds the evaluation bundle from predictions: metrics, curves, reliability, SVG plots and
 * an `index.html` that shows them, as bytes keyed by file name (see
 * {@link EVALUATION_BUNDLE_FILES}). Pure: writing the files is the caller's job.
 */
export function buildEvaluationBundle(input: EvaluationInput): EvaluationBundle {
  const { n, k, task } = checkInput(input);
  const names = task.classNames;
  const costs = task.costMatrix;
  const calibrated = input.calibratedProbabilities;
  const preds = argmaxDecision(input.probabilities);
  const cm = confusionMatrix(input.labels, preds, k);
  const report = classificationReport(cm, names);
  const baselineClass = majorityClass(input.labels, k);
  const cmBaseline = confusionMatrix(input.labels, new Array(n).fill(baselineClass), k);
  const roc = oneVsRestRoc(input.labels, input.probabilities);
  const pr = oneVsRestPrecisionRecall(input.labels, input.probabilities);
  const nBins = input.nBins ?? 10;
  const rel = reliabilityDiagram(input.labels, input.probabilities, nBins);
  const relCal = calibrated ? reliabilityDiagram(input.labels, calibrated, nBins) : undefined;
  const aucs = Object.values(roc).map((c) => c.auc).filter((v): v is number => v !== null);
  const beats = (c: ConfusionMatrix) =>
    macroF1(c) > macroF1(cmBaseline) &&
    (!costs || totalCost(c, costs) < totalCost(cmBaseline, costs));
  const summary: SummaryMetrics = {
    task: task.name,
    class_names: [...names],
    n_samples: n,
    num_classes: k,
    label_counts: cm.map((row) => row.reduce((a, b) => a + b, 0)),
    accuracy: accuracy(cm),
    macro_f1: macroF1(cm),
    weighted_f1: weightedF1(cm),
    baseline_class: baselineClass,
    baseline_accuracy: accuracy(cmBaseline),
    baseline_macro_f1: macroF1(cmBaseline),
    argmax_beats_baseline: beats(cm),
    macro_roc_auc: aucs.length > 0 ? mean(aucs) : null,
    macro_average_precision: mean(Object.values(pr).map((c) => c.average_precision ?? 0)),
    ece: rel.ece,
    nll: negativeLogLikelihood(input.labels, input.probabilities),
    temperature: input.temperature ?? null,
  };
  let minCost: { cm: ConfusionMatrix; preds: number[]; report: ClassificationReport } | null = null;
  if (costs) {
    const costPreds = minExpectedCostDecision(calibrated ?? input.probabilities, costs);
    const cmCost = confusionMatrix(input.labels, costPreds, k);
    minCost = { cm: cmCost, preds: costPreds, report: classificationReport(cmCost, names) };
    Object.assign(summary, {
      total_cost: totalCost(cm, costs),
      min_cost_accuracy: accuracy(cmCost),
      min_cost_macro_f1: macroF1(cmCost),
      min_cost_weighted_f1: weightedF1(cmCost),
      min_cost_total_cost: totalCost(cmCost, costs),
      min_cost_probabilities: calibrated ? "calibrated" : "uncalibrated",
      baseline_total_cost: totalCost(cmBaseline, costs),
      min_cost_beats_baseline: beats(cmCost),
    });
  }
  // Binary tasks: class 1 is the positive class.
  const positive = k === 2 ? [1] : undefined;
  if (positive) {
    Object.assign(summary, {
      positive_class: 1,
      roc_auc: roc["1"].auc,
      average_precision: pr["1"].average_precision,
      pr_auc: pr["1"].auc,
    });
  }
  if (calibrated && relCal) {
    summary.calibrated_ece = relCal.ece;
    summary.calibrated_nll = negativeLogLikelihood(input.labels, calibrated);
  }
  const positiveName = positive ? ` of the positive class ${names[1]}` : " (one-vs-rest)";
  const svgs: Record<string, string> = {
    "confusion_matrix.svg": confusionMatrixSvg(cm, { classNames: names }),
    "confusion_matrix_normalized.svg": confusionMatrixSvg(cm, {
      normalize: "true",
      classNames: names,
    }),
    ...(minCost
      ? {
        "confusion_matrix_min_cost.svg": confusionMatrixSvg(minCost.cm, {
          title: "Confusion matrix, min-expected-cost rule (counts)",
          classNames: names,
        }),
      }
      : {}),
    "roc_curves.svg": curvesSvg(roc, "roc", {
      classNames: names,
      classes: positive,
      title: `ROC curve${positive ? "" : "s"}${positiveName}`,
    }),
    "pr_curves.svg": curvesSvg(pr, "pr", {
      classNames: names,
      classes: positive,
      title: `Precision-recall curve${positive ? "" : "s"}${positiveName}`,
    }),
    "reliability.svg": reliabilitySvg(rel, {
      calibrated: relCal,
      temperature: input.temperature ?? undefined,
    }),
  };
  const text: Record<string, string> = {
    "summary_metrics.json": json(summary),
    "task.json": json(taskToJson(task)),
    "classification_report.json": json(report),
    "confusion_matrix.csv": bareConfusionCsv(cm),
    "confusion_matrix_labeled.csv": labeledConfusionCsv(cm, names),
    "roc_curves.json": json(roc),
    "pr_curves.json": json(pr),
    "reliability.json": reliabilityJson(rel),
    "predictions.csv": predictionsCsv(input.labels, input.probabilities, input.vehicleIds, k, {
      preds,
      calibrated,
      minCostPreds: minCost?.preds,
    }),
    ...svgs,
  };
  if (minCost) {
    text["classification_report_min_cost.json"] = json(minCost.report);
    text["confusion_matrix_min_cost.csv"] = bareConfusionCsv(minCost.cm);
  }
  if (relCal) text["reliability_calibrated.json"] = reliabilityJson(relCal);
  const files = EVALUATION_BUNDLE_FILES.filter((f) => f === "index.html" || f in text);
  text["index.html"] = evaluationIndexHtml({
    summary,
    report,
    reportMinCost: minCost?.report ?? null,
    svgs,
    meta: input.meta ?? {},
    files,
  });
  const encoder = new TextEncoder();
  const out = new Map<string, Uint8Array>();
  for (const name of files) out.set(name, encoder.encode(text[name]));
  return { files: out, summary, report, confusion: cm, task };
}
