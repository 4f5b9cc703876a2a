import { averagePrecisionScore, precisionRecallCurve } from "./precision_recall_curve.ts";
import { areaUnderCurve, rocAucScore, rocCurve } from "./roc_curve.ts";

/** One class's curve in the bundle's JSON layout: `{x, y, auc}` plus thresholds. */
export interface CurveJson {
  /** x coordinates (ROC: false-positive rate; PR: recall). `null` where undefined. */
  x: (number | null)[];
  /** y coordinates (ROC: true-positive rate; PR: precision). `null` where undefined. */
  y: (number | null)[];
  /**
   * ROC: `roc_auc_score`; PR: the trapezoidal `sklearn.metrics.auc(recall, precision)` (the
   * PyTorch pipeline's PR "auc"). `null` when undefined.
   */
  auc: number | null;
  /** PR only: `average_precision_score` (the step-wise area), beside the trapezoid. */
  average_precision?: number;
  /** Score thresholds; ROC's first is `null` (it stands for +Infinity). */
  thresholds: (number | null)[];
}

/** Curves keyed by class id (`"0".."K-1"`), one-vs-rest. */
export type CurvesJson = Record<string, CurveJson>;

const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

function columns(
  labels: ArrayLike<number | bigint>,
  probabilities: ArrayLike<ArrayLike<number>>,
  c: number,
) {
  const positive = Array.from(labels, (y) => Number(y) === c);
  const scores = Array.from(probabilities, (row) => row[c]);
  return { positive, scores };
}

function numClassesOf(probabilities: ArrayLike<ArrayLike<number>>, action: string): number {
  if (probabilities.length === 0) {
    throw new RangeError(`Cannot compute ${action}: no predictions were given`);
  }
  return probabilities[0].length;
}

/**
 * One-vs-rest ROC curves for every class: class c is positive, `probabilities[:, c]` the
 * score. A class absent from the labels has `tpr` and `auc` of `null` (undefined).
 */
export function oneVsRestRoc(
  labels: ArrayLike<number | bigint>,
  probabilities: ArrayLike<ArrayLike<number>>,
): CurvesJson {
  const k = numClassesOf(probabilities, "one-vs-rest ROC curves");
  const out: CurvesJson = {};
  for (let c = 0; c < k; c++) {
    const { positive, scores } = columns(labels, probabilities, c);
    const roc = rocCurve(positive, scores);
    out[String(c)] = {
      x: roc.fpr.map(finiteOrNull),
      y: roc.tpr.map(finiteOrNull),
      auc: finiteOrNull(rocAucScore(positive, scores)),
      thresholds: roc.thresholds.map(finiteOrNull),
    };
  }
  return out;
}

/**
 * One-vs-rest precision-recall curves for every class (x = recall, y = precision,
 * auc = trapezoidal area `auc(recall, precision)`, average_precision =
 * `average_precision_score`).
 */
export function oneVsRestPrecisionRecall(
  labels: ArrayLike<number | bigint>,
  probabilities: ArrayLike<ArrayLike<number>>,
): CurvesJson {
  const k = numClassesOf(probabilities, "one-vs-rest precision-recall curves");
  const out: CurvesJson = {};
  for (let c = 0; c < k; c++) {
    const { positive, scores } = columns(labels, probabilities, c);
    const pr = precisionRecallCurve(positive, scores);
    out[String(c)] = {
      x: pr.recall,
      y: pr.precision,
      auc: areaUnderCurve(pr.recall, pr.precision),
      average_precision: averagePrecisionScore(positive, scores),
      thresholds: pr.thresholds,
    };
  }
  return out;
}
