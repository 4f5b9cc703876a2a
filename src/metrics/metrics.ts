/**
 * Classification metrics on a confusion matrix, with scikit-learn's semantics
 * (`confusion_matrix`, `accuracy_score`, `f1_score`, `classification_report` with
 * `zero_division="warn"`, i.e. an undefined ratio counts as 0), the total cost under a
 * task's cost matrix and the minimum-expected-cost decision rule.
 *
 * Pure: no `Deno.*`, usable from the training loop, the CLI and the browser demo.
 *
 * @module
 */

/** A square confusion matrix: `m[trueClass][predictedClass]` = count. */
export type ConfusionMatrix = number[][];

/** Per-class row of a classification report (scikit-learn `output_dict` layout). */
export interface ClassReportRow {
  /** tp / (tp + fp); 0 when nothing was predicted as this class. */
  precision: number;
  /** tp / (tp + fn); 0 when the class is absent from the labels. */
  recall: number;
  /** 2 tp / (2 tp + fp + fn); 0 when the class is neither present nor predicted. */
  "f1-score": number;
  /** Number of true samples of the class (or in total, for the averages). */
  support: number;
}

/**
 * scikit-learn's `classification_report(..., labels=range(K), target_names=names,
 * output_dict=True)`: one key per class name (`"0".."K-1"` without names), `"accuracy"`,
 * `"macro avg"`, `"weighted avg"`.
 */
export type ClassificationReport = {
  [label: string]: ClassReportRow | number;
} & {
  accuracy: number;
  "macro avg": ClassReportRow;
  "weighted avg": ClassReportRow;
};

function checkClass(value: number, numClasses: number, what: string, index: number): void {
  if (!Number.isInteger(value) || value < 0 || value >= numClasses) {
    throw new RangeError(
      `Cannot build confusion matrix: ${what}[${index}] is ${value}, ` +
        `expected an integer class in 0..${numClasses - 1}`,
    );
  }
}

/**
 * Counts `(label, prediction)` pairs into a `numClasses x numClasses` matrix
 * (rows = true class, columns = predicted), like `sklearn.metrics.confusion_matrix`
 * with `labels=range(numClasses)`.
 *
 * @example
 * ```ts
 * confusionMatrix([0, 1, 1], [0, 1, 0], 2); // [[1, 0], [1, 1]]
 * ```
 */
export function confusionMatrix(
  labels: ArrayLike<number | bigint>,
  preds: ArrayLike<number | bigint>,
  numClasses: number,
): ConfusionMatrix {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new RangeError(
      `Cannot build confusion matrix: numClasses must be a positive integer, received ${numClasses}`,
    );
  }
  if (labels.length !== preds.length) {
    throw new RangeError(
      `Cannot build confusion matrix: labels and preds differ in length ` +
        `(labels ${labels.length}, preds ${preds.length})`,
    );
  }
  const m: ConfusionMatrix = Array.from(
    { length: numClasses },
    () => new Array(numClasses).fill(0),
  );
  for (let i = 0; i < labels.length; i++) {
    const t = Number(labels[i]);
    const p = Number(preds[i]);
    checkClass(t, numClasses, "labels", i);
    checkClass(p, numClasses, "preds", i);
    m[t][p]++;
  }
  return m;
}

function checkSquare(confusion: ConfusionMatrix, action: string): number {
  const k = confusion.length;
  if (k === 0 || confusion.some((row) => row.length !== k)) {
    throw new RangeError(
      `Cannot ${action}: the confusion matrix must be square and non-empty, received ` +
        `${k} rows of lengths [${confusion.map((r) => r.length).join(", ")}]`,
    );
  }
  return k;
}

interface Counts {
  tp: number[];
  trueSum: number[];
  predSum: number[];
  total: number;
}

function counts(confusion: ConfusionMatrix, action: string): Counts {
  const k = checkSquare(confusion, action);
  const tp = new Array(k).fill(0);
  const trueSum = new Array(k).fill(0);
  const predSum = new Array(k).fill(0);
  let total = 0;
  for (let i = 0; i < k; i++) {
    tp[i] = confusion[i][i];
    for (let j = 0; j < k; j++) {
      trueSum[i] += confusion[i][j];
      predSum[j] += confusion[i][j];
      total += confusion[i][j];
    }
  }
  return { tp, trueSum, predSum, total };
}

/** sklearn's `_prf_divide` with zero_division "warn": an undefined ratio is 0. */
function divide(num: number, den: number): number {
  return den === 0 ? 0 : num / den;
}

/** Per-class F1 = 2 tp / (support + predicted), as scikit-learn computes it. */
function perClassF1(c: Counts): number[] {
  return c.tp.map((tp, i) => divide(2 * tp, c.trueSum[i] + c.predSum[i]));
}

/** Fraction of correct predictions (trace / total); 0 for an empty matrix. */
export function accuracy(confusion: ConfusionMatrix): number {
  const c = counts(confusion, "compute accuracy");
  return divide(c.tp.reduce((a, b) => a + b, 0), c.total);
}

/** Unweighted mean of per-class F1 over all classes (`f1_score(average="macro")`). */
export function macroF1(confusion: ConfusionMatrix): number {
  const f1 = perClassF1(counts(confusion, "compute macro F1"));
  return f1.reduce((a, b) => a + b, 0) / f1.length;
}

/** Support-weighted mean of per-class F1 (`f1_score(average="weighted")`). */
export function weightedF1(confusion: ConfusionMatrix): number {
  const c = counts(confusion, "compute weighted F1");
  const f1 = perClassF1(c);
  let s = 0;
  for (let i = 0; i < f1.length; i++) s += f1[i] * c.trueSum[i];
  return divide(s, c.total);
}

/**
 * Sum over cells of count x cost (rows = true class, columns = predicted).
 * Lower is better.
 */
export function totalCost(
  confusion: ConfusionMatrix,
  costMatrix: readonly (readonly number[])[],
): number {
  const k = checkSquare(confusion, "compute total cost");
  if (costMatrix.length !== k || costMatrix.some((row) => row.length !== k)) {
    throw new RangeError(
      `Cannot compute total cost: the cost matrix must be ${k}x${k} like the confusion matrix, ` +
        `received ${costMatrix.length} rows`,
    );
  }
  let cost = 0;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) cost += confusion[i][j] * costMatrix[i][j];
  }
  return cost;
}

/**
 * scikit-learn's `classification_report(y, p, labels=range(K), target_names=classNames,
 * output_dict=True)` computed from a confusion matrix (without `classNames`, keys are
 * `"0".."K-1"`, scikit-learn's default). Undefined precision/recall/F1 are 0 (sklearn's
 * default `zero_division="warn"`). `support` values are plain numbers (sklearn writes floats).
 */
export function classificationReport(
  confusion: ConfusionMatrix,
  classNames?: readonly string[],
): ClassificationReport {
  const c = counts(confusion, "build classification report");
  const k = c.tp.length;
  if (classNames && classNames.length !== k) {
    throw new RangeError(
      `Cannot build classification report: ${classNames.length} class names for a ${k}x${k} ` +
        "confusion matrix",
    );
  }
  const precision = c.tp.map((tp, i) => divide(tp, c.predSum[i]));
  const recall = c.tp.map((tp, i) => divide(tp, c.trueSum[i]));
  const f1 = perClassF1(c);
  const report: Record<string, ClassReportRow | number> = {};
  for (let i = 0; i < k; i++) {
    report[classNames ? classNames[i] : String(i)] = {
      precision: precision[i],
      recall: recall[i],
      "f1-score": f1[i],
      support: c.trueSum[i],
    };
  }
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const weighted = (v: number[]) => {
    let s = 0;
    for (let i = 0; i < k; i++) s += v[i] * c.trueSum[i];
    return divide(s, c.total);
  };
  report.accuracy = divide(c.tp.reduce((a, b) => a + b, 0), c.total);
  report["macro avg"] = {
    precision: mean(precision),
    recall: mean(recall),
    "f1-score": mean(f1),
    support: c.total,
  };
  report["weighted avg"] = {
    precision: weighted(precision),
    recall: weighted(recall),
    "f1-score": weighted(f1),
    support: c.total,
  };
  return report as ClassificationReport;
}

/**
 * For each row of class probabilities, the class with the lowest expected cost
 * `sum_i p_i * cost[i][j]` (ties go to the lower class index).
 *
 * @example
 * ```ts
 * // 10% chance of failure within 6 steps is already worth an early warning:
 * minExpectedCostDecision([[0.9, 0, 0, 0, 0.1]], COST_MATRIX); // [4]
 * ```
 */
export function minExpectedCostDecision(
  probabilities: ArrayLike<ArrayLike<number>>,
  costMatrix: readonly (readonly number[])[],
): number[] {
  const k = costMatrix.length;
  const out = new Array<number>(probabilities.length);
  for (let n = 0; n < probabilities.length; n++) {
    const p = probabilities[n];
    if (p.length !== k) {
      throw new RangeError(
        `Cannot choose the minimum-expected-cost class: row ${n} has ${p.length} ` +
          `probabilities, expected ${k} (one per cost-matrix row)`,
      );
    }
    let best = 0;
    let bestCost = Infinity;
    for (let j = 0; j < k; j++) {
      let e = 0;
      for (let i = 0; i < k; i++) e += p[i] * costMatrix[i][j];
      if (e < bestCost) {
        bestCost = e;
        best = j;
      }
    }
    out[n] = best;
  }
  return out;
}

/** For each row of class probabilities, the index of the largest (first on ties). */
export function argmaxDecision(probabilities: ArrayLike<ArrayLike<number>>): number[] {
  const out = new Array<number>(probabilities.length);
  for (let n = 0; n < probabilities.length; n++) {
    const p = probabilities[n];
    let best = 0;
    for (let j = 1; j < p.length; j++) if (p[j] > p[best]) best = j;
    out[n] = best;
  }
  return out;
}

/**
 * The most frequent class of `labels` (the lowest index on ties): what an always-majority
 * baseline predicts.
 */
export function majorityClass(labels: ArrayLike<number | bigint>, numClasses: number): number {
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) counts[Number(labels[i])]++;
  let best = 0;
  for (let c = 1; c < numClasses; c++) if (counts[c] > counts[best]) best = c;
  return best;
}
