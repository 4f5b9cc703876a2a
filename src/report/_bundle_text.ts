/**
 * Private: the text formats of the bundle's CSV and JSON files, kept to the PyTorch
 * pipeline's layouts where the file names are shared.
 */
import type { ConfusionMatrix } from "../metrics/metrics.ts";
import type { Reliability } from "../metrics/reliability.ts";

/** `JSON.stringify` with 2-space indent and a final newline. */
export const json = (v: unknown): string => JSON.stringify(v, null, 2) + "\n";

/** A CSV cell, quoted (RFC 4180) when it holds a comma, quote or line break. */
export function csvCell(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * The confusion matrix as `np.savetxt(path, cm, fmt="%d", delimiter=",")` writes it: no
 * header, one line of integers per true class, each ending in `\n` (`np.loadtxt` reads it).
 */
export function bareConfusionCsv(cm: ConfusionMatrix): string {
  return cm.map((row) => row.map((v) => String(Math.trunc(v))).join(",") + "\n").join("");
}

/** The confusion matrix with a header of class names and the true class first on each row. */
export function labeledConfusionCsv(cm: ConfusionMatrix, classNames: readonly string[]): string {
  const header = ["true\\pred", ...classNames].map(csvCell).join(",");
  const rows = cm.map((row, i) => [csvCell(classNames[i]), ...row.map(String)].join(","));
  return [header, ...rows].join("\n") + "\n";
}

/** What `predictions.csv` holds beyond labels and the model's probabilities. */
export interface PredictionColumns {
  readonly preds: readonly number[];
  readonly calibrated?: ArrayLike<ArrayLike<number>>;
  readonly minCostPreds?: readonly number[];
}

/**
 * `predictions.csv`: `vehicle_id,label,pred,p0..p{K-1}`, then `cal_p0..cal_p{K-1}` (the
 * temperature-scaled probabilities) and `pred_min_cost` when the bundle has them.
 */
export function predictionsCsv(
  labels: ArrayLike<number | bigint>,
  probabilities: ArrayLike<ArrayLike<number>>,
  vehicleIds: ArrayLike<number | bigint> | undefined,
  k: number,
  extra: PredictionColumns,
): string {
  const cols = (prefix: string) => Array.from({ length: k }, (_, j) => `${prefix}${j}`);
  const header = [
    "vehicle_id",
    "label",
    "pred",
    ...cols("p"),
    ...(extra.calibrated ? cols("cal_p") : []),
    ...(extra.minCostPreds ? ["pred_min_cost"] : []),
  ];
  const lines = [header.join(",")];
  for (let n = 0; n < probabilities.length; n++) {
    const cells = [
      vehicleIds ? String(vehicleIds[n]) : String(n),
      String(labels[n]),
      String(extra.preds[n]),
      ...Array.from(probabilities[n], String),
    ];
    if (extra.calibrated) cells.push(...Array.from(extra.calibrated[n], String));
    if (extra.minCostPreds) cells.push(String(extra.minCostPreds[n]));
    lines.push(cells.join(","));
  }
  return lines.join("\n") + "\n";
}

/**
 * `reliability.json`: `prob_true` and `prob_pred` as `sklearn.calibration.calibration_curve(
 * correct, confidence, n_bins=n_bins, strategy="uniform")` returns them for the top label
 * (non-empty bins only), `n_bins` and `strategy`; then every bin (edges, counts, mean
 * confidence and accuracy, `null` when empty), ECE and MCE under new keys.
 */
export function reliabilityJson(rel: Reliability): string {
  const nonEmpty = rel.counts.map((c, b) => (c > 0 ? b : -1)).filter((b) => b >= 0);
  return json({
    prob_true: nonEmpty.map((b) => rel.accuracy[b]),
    prob_pred: nonEmpty.map((b) => rel.meanConfidence[b]),
    n_bins: rel.nBins,
    strategy: "uniform",
    confidence: "top-label (largest probability), correct = argmax equals the label",
    bin_edges: rel.binEdges,
    counts: rel.counts,
    mean_confidence: rel.meanConfidence,
    accuracy: rel.accuracy,
    ece: rel.ece,
    mce: rel.mce,
  });
}
