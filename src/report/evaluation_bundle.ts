/**
 * The evaluation bundle: every file `deno task evaluate` writes, built from predictions.
 *
 * @module
 */
import {
  accuracy,
  argmaxDecision,
  type ClassificationReport,
  classificationReport,
  type ConfusionMatrix,
  confusionMatrix,
  COST_MATRIX,
  macroF1,
  minExpectedCostDecision,
  totalCost,
  weightedF1,
} from "../metrics/metrics.ts";
import { oneVsRestPrecisionRecall, oneVsRestRoc } from "../metrics/one_vs_rest.ts";
import { confusionMatrixSvg, curvesSvg, reliabilitySvg } from "./plots.ts";
import { reliabilityDiagram } from "../metrics/reliability.ts";
import { evaluationIndexHtml } from "./evaluation_index_html.ts";
import type { SummaryMetrics } from "./summary_metrics.ts";

/** Predictions to evaluate: one row per window. */
export interface EvaluationInput {
  /** True classes, 0..K-1. */
  labels: ArrayLike<number | bigint>;
  /** Class probabilities, one row of K per window (rows should sum to 1). */
  probabilities: ArrayLike<ArrayLike<number>>;
  /** Vehicle id of each window, for `predictions.csv` (row index when absent). */
  vehicleIds?: ArrayLike<number | bigint>;
  /** Cost matrix (rows = true, columns = predicted); default {@link COST_MATRIX}. */
  costMatrix?: readonly (readonly number[])[];
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
}

/** The files every bundle holds, in the order `index.html` lists them. */
export const EVALUATION_BUNDLE_FILES: readonly string[] = Object.freeze([
  "index.html",
  "summary_metrics.json",
  "classification_report.json",
  "classification_report_min_cost.json",
  "confusion_matrix.csv",
  "confusion_matrix_min_cost.csv",
  "roc_curves.json",
  "pr_curves.json",
  "reliability.json",
  "predictions.csv",
  "confusion_matrix.svg",
  "confusion_matrix_normalized.svg",
  "confusion_matrix_min_cost.svg",
  "roc_curves.svg",
  "pr_curves.svg",
  "reliability.svg",
]);

const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;

function confusionCsv(cm: ConfusionMatrix): string {
  const k = cm.length;
  const header = ["true\\pred", ...Array.from({ length: k }, (_, j) => String(j))].join(",");
  return [header, ...cm.map((row, i) => [String(i), ...row.map(String)].join(","))].join("\n") +
    "\n";
}

function predictionsCsv(
  input: EvaluationInput,
  preds: number[],
  k: number,
): string {
  const lines = [
    ["vehicle_id", "label", "pred", ...Array.from({ length: k }, (_, j) => `p${j}`)].join(","),
  ];
  for (let n = 0; n < input.probabilities.length; n++) {
    const id = input.vehicleIds ? String(input.vehicleIds[n]) : String(n);
    lines.push(
      [id, String(input.labels[n]), String(preds[n]), ...Array.from(input.probabilities[n], String)]
        .join(","),
    );
  }
  return lines.join("\n") + "\n";
}

/**
 * Builds the evaluation bundle from predictions: metrics, curves, reliability, SVG plots and
 * an `index.html` that shows them, as bytes keyed by file name (see
 * {@link EVALUATION_BUNDLE_FILES}). Pure: writing the files is the caller's job.
 */
export function buildEvaluationBundle(input: EvaluationInput): EvaluationBundle {
  const n = input.labels.length;
  if (n === 0 || input.probabilities.length !== n) {
    throw new RangeError(
      `Cannot build evaluation bundle: expected as many probability rows as labels (at least 1), ` +
        `received ${input.probabilities.length} rows and ${n} labels`,
    );
  }
  if (input.vehicleIds && input.vehicleIds.length !== n) {
    throw new RangeError(
      `Cannot build evaluation bundle: expected ${n} vehicle ids (one per label), ` +
        `received ${input.vehicleIds.length}`,
    );
  }
  const costMatrix = input.costMatrix ?? COST_MATRIX;
  const k = input.probabilities[0].length;
  if (costMatrix.length !== k) {
    throw new RangeError(
      `Cannot build evaluation bundle: the probabilities have ${k} classes but the cost matrix ` +
        `has ${costMatrix.length} rows`,
    );
  }
  const preds = argmaxDecision(input.probabilities);
  const costPreds = minExpectedCostDecision(input.probabilities, costMatrix);
  const cm = confusionMatrix(input.labels, preds, k);
  const cmCost = confusionMatrix(input.labels, costPreds, k);
  const cmBaseline = confusionMatrix(input.labels, new Array(n).fill(0), k);
  const report = classificationReport(cm);
  const reportCost = classificationReport(cmCost);
  const roc = oneVsRestRoc(input.labels, input.probabilities);
  const pr = oneVsRestPrecisionRecall(input.labels, input.probabilities);
  const rel = reliabilityDiagram(input.labels, input.probabilities, input.nBins ?? 10);
  const aucs = Object.values(roc).map((c) => c.auc).filter((v): v is number => v !== null);
  const summary: SummaryMetrics = {
    n_samples: n,
    num_classes: k,
    label_counts: cm.map((row) => row.reduce((a, b) => a + b, 0)),
    accuracy: accuracy(cm),
    macro_f1: macroF1(cm),
    weighted_f1: weightedF1(cm),
    total_cost: totalCost(cm, costMatrix),
    min_cost_accuracy: accuracy(cmCost),
    min_cost_macro_f1: macroF1(cmCost),
    min_cost_weighted_f1: weightedF1(cmCost),
    min_cost_total_cost: totalCost(cmCost, costMatrix),
    baseline_macro_f1: macroF1(cmBaseline),
    baseline_total_cost: totalCost(cmBaseline, costMatrix),
    macro_roc_auc: aucs.length > 0 ? mean(aucs) : null,
    macro_average_precision: mean(Object.values(pr).map((c) => c.auc ?? 0)),
    ece: rel.ece,
  };
  const json = (v: unknown) => JSON.stringify(v, null, 2) + "\n";
  const svgs = {
    "confusion_matrix.svg": confusionMatrixSvg(cm),
    "confusion_matrix_normalized.svg": confusionMatrixSvg(cm, { normalize: "true" }),
    "confusion_matrix_min_cost.svg": confusionMatrixSvg(cmCost, {
      title: "Confusion matrix, min-expected-cost rule (counts)",
    }),
    "roc_curves.svg": curvesSvg(roc, "roc"),
    "pr_curves.svg": curvesSvg(pr, "pr"),
    "reliability.svg": reliabilitySvg(rel),
  };
  const text: Record<string, string> = {
    "index.html": evaluationIndexHtml({
      summary,
      report,
      reportMinCost: reportCost,
      svgs,
      meta: input.meta ?? {},
      files: EVALUATION_BUNDLE_FILES,
    }),
    "summary_metrics.json": json(summary),
    "classification_report.json": json(report),
    "classification_report_min_cost.json": json(reportCost),
    "confusion_matrix.csv": confusionCsv(cm),
    "confusion_matrix_min_cost.csv": confusionCsv(cmCost),
    "roc_curves.json": json(roc),
    "pr_curves.json": json(pr),
    "reliability.json": json({
      n_bins: rel.nBins,
      strategy: "uniform",
      confidence: "top-label (largest probability), correct = argmax equals the label",
      bin_edges: rel.binEdges,
      counts: rel.counts,
      mean_confidence: rel.meanConfidence,
      accuracy: rel.accuracy,
      ece: rel.ece,
      mce: rel.mce,
    }),
    "predictions.csv": predictionsCsv(input, preds, k),
    ...svgs,
  };
  const encoder = new TextEncoder();
  const files = new Map<string, Uint8Array>();
  for (const name of EVALUATION_BUNDLE_FILES) files.set(name, encoder.encode(text[name]));
  return { files, summary, report, confusion: cm };
}
