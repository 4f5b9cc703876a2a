/**
 * `summary_metrics.json`: the headline numbers of an evaluation, and their MLflow keys.
 *
 * @module
 */

/**
 * `summary_metrics.json`: the argmax rule, the minimum-expected-cost rule (tasks with a cost
 * matrix), the always-majority baseline, calibration before and after temperature scaling.
 */
export interface SummaryMetrics {
  /** The task's name and class names (label i is `class_names[i]`). */
  task: string;
  class_names: string[];
  n_samples: number;
  num_classes: number;
  label_counts: number[];
  accuracy: number;
  macro_f1: number;
  weighted_f1: number;
  /** Argmax rule's total cost; absent without a cost matrix (so are all `*cost*` keys). */
  total_cost?: number;
  min_cost_accuracy?: number;
  min_cost_macro_f1?: number;
  min_cost_weighted_f1?: number;
  min_cost_total_cost?: number;
  /** Which probabilities the min-cost rule used: temperature-scaled when a T was given. */
  min_cost_probabilities?: "calibrated" | "uncalibrated";
  /** The baseline predicts this class for every window: the most frequent label. */
  baseline_class: number;
  baseline_accuracy: number;
  baseline_macro_f1: number;
  baseline_total_cost?: number;
  /** The argmax rule beats the baseline in macro-F1 and, with costs, in cost. */
  argmax_beats_baseline: boolean;
  /** The same for the min-cost rule. */
  min_cost_beats_baseline?: boolean;
  /** Mean one-vs-rest ROC AUC over classes present in the labels; null if none. */
  macro_roc_auc: number | null;
  /** Mean one-vs-rest average precision over all classes. */
  macro_average_precision: number;
  /** K = 2: the positive class (1) and its ROC AUC, average precision and PR AUC. */
  positive_class?: number;
  roc_auc?: number | null;
  average_precision?: number;
  pr_auc?: number;
  /** Top-label expected calibration error and mean NLL of the model's probabilities. */
  ece: number;
  nll: number;
  /** The temperature the probabilities were scaled with (fitted on validation); or null. */
  temperature: number | null;
  /** ECE and NLL after temperature scaling; absent without a temperature. */
  calibrated_ece?: number;
  calibrated_nll?: number;
}

/** Maps the summary to MLflow metric keys: `eval_macro_f1`, `eval_cost`, ... */
export function summaryToMlflowMetrics(summary: SummaryMetrics): Record<string, number> {
  const all: Record<string, number | null | undefined> = {
    eval_accuracy: summary.accuracy,
    eval_macro_f1: summary.macro_f1,
    eval_weighted_f1: summary.weighted_f1,
    eval_cost: summary.total_cost,
    eval_min_cost_accuracy: summary.min_cost_accuracy,
    eval_min_cost_macro_f1: summary.min_cost_macro_f1,
    eval_min_cost_weighted_f1: summary.min_cost_weighted_f1,
    eval_min_cost_cost: summary.min_cost_total_cost,
    eval_baseline_accuracy: summary.baseline_accuracy,
    eval_baseline_macro_f1: summary.baseline_macro_f1,
    eval_baseline_cost: summary.baseline_total_cost,
    eval_macro_roc_auc: summary.macro_roc_auc,
    eval_macro_average_precision: summary.macro_average_precision,
    eval_roc_auc: summary.roc_auc,
    eval_average_precision: summary.average_precision,
    eval_ece: summary.ece,
    eval_nll: summary.nll,
    eval_temperature: summary.temperature,
    eval_calibrated_ece: summary.calibrated_ece,
    eval_calibrated_nll: summary.calibrated_nll,
  };
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(all)) {
    if (typeof value === "number" && Number.isFinite(value)) out[key] = value;
  }
  return out;
}
