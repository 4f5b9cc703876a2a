/** Top-label reliability (calibration) of class probabilities, in uniform bins. */
export interface Reliability {
  /** Number of uniform confidence bins over [0, 1]. */
  nBins: number;
  /** `nBins + 1` edges, `i / nBins` computed like `numpy.linspace(0, 1, nBins + 1)`. */
  binEdges: number[];
  /** Samples whose top-label confidence falls in each bin. */
  counts: number[];
  /** Mean top-label confidence per bin; `null` for an empty bin. */
  meanConfidence: (number | null)[];
  /** Fraction of correct argmax predictions per bin; `null` for an empty bin. */
  accuracy: (number | null)[];
  /** Expected calibration error: `sum_b (n_b / N) |accuracy_b - confidence_b|`. */
  ece: number;
  /** Maximum calibration error over non-empty bins. */
  mce: number;
}

/**
 * Reliability of the argmax prediction: confidence = the largest probability of each row,
 * correct = argmax equals the label. Binning matches `sklearn.calibration.calibration_curve`
 * with `strategy="uniform"` (a value on an inner edge goes to the lower bin), so
 * `accuracy`/`meanConfidence` of the non-empty bins equal its `prob_true`/`prob_pred`.
 */
export function reliabilityDiagram(
  labels: ArrayLike<number | bigint>,
  probabilities: ArrayLike<ArrayLike<number>>,
  nBins = 10,
): Reliability {
  if (!Number.isInteger(nBins) || nBins < 1) {
    throw new RangeError(
      `Cannot compute reliability: nBins must be a positive integer, received ${nBins}`,
    );
  }
  if (labels.length !== probabilities.length) {
    throw new RangeError(
      `Cannot compute reliability: labels and probabilities differ in length ` +
        `(labels ${labels.length}, probabilities ${probabilities.length})`,
    );
  }
  const step = 1 / nBins;
  const binEdges = Array.from({ length: nBins + 1 }, (_, i) => (i === nBins ? 1 : i * step));
  const counts = new Array<number>(nBins).fill(0);
  const confSum = new Array<number>(nBins).fill(0);
  const correctSum = new Array<number>(nBins).fill(0);
  for (let n = 0; n < probabilities.length; n++) {
    const p = probabilities[n];
    let best = 0;
    for (let j = 1; j < p.length; j++) if (p[j] > p[best]) best = j;
    const conf = p[best];
    if (!(conf >= 0 && conf <= 1)) {
      throw new RangeError(
        `Cannot compute reliability: row ${n} has top probability ${conf}, expected a value in [0, 1]`,
      );
    }
    // numpy.searchsorted(inner_edges, conf, side="left"): number of inner edges < conf.
    let bin = 0;
    while (bin < nBins - 1 && binEdges[bin + 1] < conf) bin++;
    counts[bin]++;
    confSum[bin] += conf;
    if (best === Number(labels[n])) correctSum[bin]++;
  }
  const total = probabilities.length;
  const meanConfidence = counts.map((c, b) => (c > 0 ? confSum[b] / c : null));
  const accuracy = counts.map((c, b) => (c > 0 ? correctSum[b] / c : null));
  let ece = 0;
  let mce = 0;
  for (let b = 0; b < nBins; b++) {
    if (counts[b] === 0) continue;
    const gap = Math.abs(accuracy[b]! - meanConfidence[b]!);
    ece += (counts[b] / total) * gap;
    mce = Math.max(mce, gap);
  }
  return { nBins, binEdges, counts, meanConfidence, accuracy, ece, mce };
}
