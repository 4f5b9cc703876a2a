/**
 * `summary_metrics.json`: the headline numbers of an evaluation, and their MLflow keys.
 *
 * @module
 */

/** `summary_metrics.json`: argmax rule, min-expected-cost rule and the always-0 baseline. */
export interface SummaryMetrics {
  n_samples: number;
  num_classes: number;
  label_counts: number[];
  accuracy: number;
  macro_f1: number;
  weighted_f1: number;
  total_cost: number;
  min_cost_accuracy: number;
  min_cost_macro_f1: number;
  min_cost_weighted_f1: number;
  min_cost_total_cost: number;
  baseline_macro_f1: number;
  baseline_total_cost: number;
  /** Mean one-vs-rest ROC AUC over classes present in the labels; null if none. */
  macro_roc_auc: number | null;
  /** Mean one-vs-rest average precision over all classes. */
  macro_average_precision: number;
  ece: number;
}

/** Maps the summary to MLflow metric keys: `eval_macro_f1`, `eval_cost`, ... */
export function summaryToMlflowMetrics(summary: SummaryMetrics): Record<string, number> {
  const out: Record<string, number> = {
    eval_accuracy: summary.accuracy,
    eval_macro_f1: summary.macro_f1,
    eval_weighted_f1: summary.weighted_f1,
    eval_cost: summary.total_cost,
    eval_min_cost_accuracy: summary.min_cost_accuracy,
    eval_min_cost_macro_f1: summary.min_cost_macro_f1,
    eval_min_cost_weighted_f1: summary.min_cost_weighted_f1,
    eval_min_cost_cost: summary.min_cost_total_cost,
    eval_baseline_macro_f1: summary.baseline_macro_f1,
    eval_baseline_cost: summary.baseline_total_cost,
    eval_macro_average_precision: summary.macro_average_precision,
    eval_ece: summary.ece,
  };
  if (summary.macro_roc_auc !== null) out.eval_macro_roc_auc = summary.macro_roc_auc;
  return out;
}
