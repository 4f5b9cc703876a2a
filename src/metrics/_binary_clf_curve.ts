/**
 * Private: scikit-learn's `confusion_matrix_at_thresholds` (formerly `_binary_clf_curve`)
 * without sample weights. Shared by the ROC and precision-recall curves.
 */

/** Counts at each distinct score, from the highest threshold to the lowest. */
export interface ThresholdCounts {
  /** False positives with score >= threshold. */
  fps: number[];
  /** True positives with score >= threshold. */
  tps: number[];
  /** The distinct scores, decreasing. */
  thresholds: number[];
}

/** Validates a binary problem given as `positive[i]` flags and `scores[i]`. */
export function checkBinaryInputs(
  positive: ArrayLike<boolean>,
  scores: ArrayLike<number>,
  action: string,
): void {
  if (positive.length !== scores.length) {
    throw new RangeError(
      `Cannot ${action}: labels and scores differ in length ` +
        `(labels ${positive.length}, scores ${scores.length})`,
    );
  }
  if (scores.length === 0) {
    throw new RangeError(`Cannot ${action}: no samples were given`);
  }
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i])) {
      throw new RangeError(
        `Cannot ${action}: scores[${i}] is ${scores[i]}, expected a finite number`,
      );
    }
  }
}

/** Sorts by decreasing score and accumulates tp/fp at the end of each tie group. */
export function thresholdCounts(
  positive: ArrayLike<boolean>,
  scores: ArrayLike<number>,
): ThresholdCounts {
  const order = Array.from({ length: scores.length }, (_, i) => i);
  order.sort((a, b) => scores[b] - scores[a]);
  const fps: number[] = [];
  const tps: number[] = [];
  const thresholds: number[] = [];
  let tp = 0;
  for (let r = 0; r < order.length; r++) {
    if (positive[order[r]]) tp++;
    // A threshold sits where the next score differs (or at the end of the data).
    if (r === order.length - 1 || scores[order[r + 1]] !== scores[order[r]]) {
      tps.push(tp);
      fps.push(r + 1 - tp);
      thresholds.push(scores[order[r]]);
    }
  }
  return { fps, tps, thresholds };
}
