import { checkBinaryInputs, thresholdCounts } from "./_binary_clf_curve.ts";

/** A receiver operating characteristic curve, as `sklearn.metrics.roc_curve` returns it. */
export interface RocCurve {
  /** False-positive rates, increasing; all NaN when there are no negatives. */
  fpr: number[];
  /** True-positive rates, increasing; all NaN when there are no positives. */
  tpr: number[];
  /** Decreasing score thresholds; the first is `Infinity` (the (0, 0) point). */
  thresholds: number[];
}

/**
 * `sklearn.metrics.roc_curve(positive, scores)` with its default `drop_intermediate=True`
 * (collinear points between corners are dropped; they do not change the area).
 *
 * @example
 * ```ts
 * rocCurve([false, false, true, true], [0.1, 0.4, 0.35, 0.8]);
 * // { fpr: [0, 0, 0.5, 0.5, 1], tpr: [0, 0.5, 0.5, 1, 1], thresholds: [Infinity, 0.8, 0.4, 0.35, 0.1] }
 * ```
 */
export function rocCurve(positive: ArrayLike<boolean>, scores: ArrayLike<number>): RocCurve {
  checkBinaryInputs(positive, scores, "compute ROC curve");
  let { fps, tps, thresholds } = thresholdCounts(positive, scores);
  if (fps.length > 2) {
    // Keep a point only where the second difference of fps or tps is non-zero (a corner).
    const keep: number[] = [0];
    for (let i = 1; i < fps.length - 1; i++) {
      const dFps = fps[i + 1] - 2 * fps[i] + fps[i - 1];
      const dTps = tps[i + 1] - 2 * tps[i] + tps[i - 1];
      if (dFps !== 0 || dTps !== 0) keep.push(i);
    }
    keep.push(fps.length - 1);
    fps = keep.map((i) => fps[i]);
    tps = keep.map((i) => tps[i]);
    thresholds = keep.map((i) => thresholds[i]);
  }
  fps = [0, ...fps];
  tps = [0, ...tps];
  thresholds = [Infinity, ...thresholds];
  const fpLast = fps[fps.length - 1];
  const tpLast = tps[tps.length - 1];
  return {
    fpr: fps.map((v) => (fpLast > 0 ? v / fpLast : NaN)),
    tpr: tps.map((v) => (tpLast > 0 ? v / tpLast : NaN)),
    thresholds,
  };
}

/** Trapezoidal area under a curve with increasing (or decreasing) x, like `sklearn.metrics.auc`. */
export function areaUnderCurve(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length || x.length < 2) {
    throw new RangeError(
      `Cannot compute area under curve: need at least 2 points with as many x as y, ` +
        `received ${x.length} x and ${y.length} y`,
    );
  }
  let increasing = true;
  let decreasing = true;
  for (let i = 1; i < x.length; i++) {
    if (x[i] < x[i - 1]) increasing = false;
    if (x[i] > x[i - 1]) decreasing = false;
  }
  if (!increasing && !decreasing) {
    throw new RangeError(
      "Cannot compute area under curve: x is neither increasing nor decreasing",
    );
  }
  let area = 0;
  for (let i = 1; i < x.length; i++) area += ((x[i] - x[i - 1]) * (y[i] + y[i - 1])) / 2;
  return increasing ? area : -area;
}

/**
 * `sklearn.metrics.roc_auc_score` for a binary problem: the area under {@link rocCurve}.
 * NaN when only one class is present (scikit-learn warns and returns NaN too).
 */
export function rocAucScore(positive: ArrayLike<boolean>, scores: ArrayLike<number>): number {
  const { fpr, tpr } = rocCurve(positive, scores);
  if (Number.isNaN(fpr[fpr.length - 1]) || Number.isNaN(tpr[tpr.length - 1])) return NaN;
  return areaUnderCurve(fpr, tpr);
}
