import { checkBinaryInputs, thresholdCounts } from "./_binary_clf_curve.ts";

/** A precision-recall curve, as `sklearn.metrics.precision_recall_curve` returns it. */
export interface PrecisionRecallCurve {
  /** Precision at each threshold (increasing threshold order), then a final 1. */
  precision: number[];
  /** Recall at each threshold, decreasing, then a final 0. All 1 when there are no positives. */
  recall: number[];
  /** Increasing distinct score thresholds (one fewer than precision/recall). */
  thresholds: number[];
}

/**
 * `sklearn.metrics.precision_recall_curve(positive, scores)` with its defaults
 * (`drop_intermediate=False`). Undefined precision (nothing predicted positive) is 0.
 */
export function precisionRecallCurve(
  positive: ArrayLike<boolean>,
  scores: ArrayLike<number>,
): PrecisionRecallCurve {
  checkBinaryInputs(positive, scores, "compute precision-recall curve");
  const { fps, tps, thresholds } = thresholdCounts(positive, scores);
  const tpLast = tps[tps.length - 1];
  const precision = tps.map((tp, i) => (tp + fps[i] !== 0 ? tp / (tp + fps[i]) : 0));
  const recall = tps.map((tp) => (tpLast === 0 ? 1 : tp / tpLast));
  return {
    precision: [...precision.reverse(), 1],
    recall: [...recall.reverse(), 0],
    thresholds: [...thresholds].reverse(),
  };
}

/**
 * `sklearn.metrics.average_precision_score` for a binary problem: the step-function
 * integral `sum_n (R_n - R_{n-1}) P_n` of {@link precisionRecallCurve}. 0 when there are no
 * positives (as scikit-learn returns, with a warning).
 */
export function averagePrecisionScore(
  positive: ArrayLike<boolean>,
  scores: ArrayLike<number>,
): number {
  const { precision, recall } = precisionRecallCurve(positive, scores);
  let s = 0;
  for (let i = 0; i < recall.length - 1; i++) s += (recall[i + 1] - recall[i]) * precision[i];
  return Math.max(0, -s);
}
