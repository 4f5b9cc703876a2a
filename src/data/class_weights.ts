/**
 * Class counts and the contract's class weights.
 *
 * @module
 */

/** Counts of each class 0..numClasses-1; labels outside that range are an error. */
export function classCounts(labels: ArrayLike<number>, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= numClasses) {
      throw new RangeError(
        `Cannot count classes: label ${y} at row ${i} is outside 0..${numClasses - 1}`,
      );
    }
    counts[y]++;
  }
  return counts;
}

/**
 * The contract's class weights: `w_c = sqrt(N / (K * n_c))` for every class with n_c > 0
 * (0 otherwise), rescaled so the weights sum to K.
 *
 * @example
 * ```ts
 * classWeights([21278, 2232, 2150, 1923, 2000]); // ~[0.362, 1.117, 1.138, 1.203, 1.180]
 * ```
 */
export function classWeights(counts: readonly number[]): number[] {
  const k = counts.length;
  const n = counts.reduce((a, b) => a + b, 0);
  if (k === 0 || n === 0) {
    throw new RangeError(
      `Cannot compute class weights: expected counts with at least one sample, received [${counts}]`,
    );
  }
  const raw = counts.map((c) => (c > 0 ? Math.sqrt(n / (k * c)) : 0));
  const sum = raw.reduce((a, b) => a + b, 0);
  return raw.map((w) => (w * k) / sum);
}
