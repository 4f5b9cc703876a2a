/**
 * Temperature scaling (Guo et al. 2017): one scalar T > 0 that divides every logit, fitted
 * to minimise the negative log-likelihood of held-out labels. It leaves the argmax unchanged
 * and only makes the probabilities honest, which the minimum-expected-cost rule relies on.
 *
 * @module
 */

/** The range a fitted temperature is kept in (separable data would drive it to 0). */
export const TEMPERATURE_RANGE: readonly [number, number] = Object.freeze([0.01, 100]);

/** What {@link fitTemperature} found. */
export interface TemperatureFit {
  /** The fitted T (logits are divided by it); within {@link TEMPERATURE_RANGE}. */
  readonly temperature: number;
  /** Mean NLL at T = 1. */
  readonly nllBefore: number;
  /** Mean NLL at the fitted T. */
  readonly nllAfter: number;
  /** Newton/bisection iterations used. */
  readonly iterations: number;
}

const EPS = 2 ** -52;

function checkRows(
  labels: ArrayLike<number | bigint>,
  rows: ArrayLike<ArrayLike<number>>,
  action: string,
): number {
  if (labels.length !== rows.length || rows.length === 0) {
    throw new RangeError(
      `Cannot ${action}: expected as many rows as labels (at least 1), received ` +
        `${rows.length} rows and ${labels.length} labels`,
    );
  }
  const k = rows[0].length;
  for (let i = 0; i < rows.length; i++) {
    const y = Number(labels[i]);
    if (!Number.isInteger(y) || y < 0 || y >= k) {
      throw new RangeError(
        `Cannot ${action}: label ${labels[i]} at row ${i} is outside 0..${k - 1}`,
      );
    }
    if (rows[i].length !== k) {
      throw new RangeError(
        `Cannot ${action}: row ${i} has ${rows[i].length} values, row 0 has ${k}`,
      );
    }
  }
  return k;
}

/**
 * Mean negative log-likelihood (natural log) of the true classes: `-mean(log p[y])`, each
 * probability clipped to `[eps, 1 - eps]` with eps = 2^-52, as scikit-learn's `log_loss`
 * does for float64 input.
 */
export function negativeLogLikelihood(
  labels: ArrayLike<number | bigint>,
  probabilities: ArrayLike<ArrayLike<number>>,
): number {
  checkRows(labels, probabilities, "compute the negative log-likelihood");
  let sum = 0;
  for (let i = 0; i < probabilities.length; i++) {
    const p = probabilities[i][Number(labels[i])];
    sum -= Math.log(Math.min(1 - EPS, Math.max(EPS, p)));
  }
  return sum / probabilities.length;
}

/** mean NLL at inverse temperature b, and its first two derivatives in b. */
function nllAt(
  labels: ArrayLike<number | bigint>,
  logits: ArrayLike<ArrayLike<number>>,
  b: number,
): { f: number; d1: number; d2: number } {
  let f = 0, d1 = 0, d2 = 0;
  const n = logits.length;
  for (let i = 0; i < n; i++) {
    const z = logits[i];
    let max = -Infinity;
    for (let c = 0; c < z.length; c++) max = Math.max(max, b * z[c]);
    let s = 0, m1 = 0, m2 = 0;
    for (let c = 0; c < z.length; c++) {
      const e = Math.exp(b * z[c] - max);
      s += e;
      m1 += e * z[c];
      m2 += e * z[c] * z[c];
    }
    const mean = m1 / s;
    const zy = z[Number(labels[i])];
    f += max + Math.log(s) - b * zy;
    d1 += mean - zy;
    d2 += Math.max(0, m2 / s - mean * mean);
  }
  return { f: f / n, d1: d1 / n, d2: d2 / n };
}

/**
 * Fits the temperature of `logits` (or log-probabilities: a per-row shift changes nothing)
 * on `labels` by minimising the mean NLL of `softmax(z / T)`. The NLL is convex in 1/T, so
 * a safeguarded Newton iteration on its derivative, bracketed by
 * {@link TEMPERATURE_RANGE}, finds the minimum to machine precision; at a bound the bound
 * is returned.
 *
 * @example
 * ```ts
 * const { temperature } = fitTemperature(valLogits, valLabels);
 * const calibrated = applyTemperature(testLogits, temperature);
 * ```
 */
export function fitTemperature(
  logits: ArrayLike<ArrayLike<number>>,
  labels: ArrayLike<number | bigint>,
): TemperatureFit {
  checkRows(labels, logits, "fit the temperature");
  for (let i = 0; i < logits.length; i++) {
    for (let c = 0; c < logits[i].length; c++) {
      if (!Number.isFinite(logits[i][c])) {
        throw new RangeError(
          `Cannot fit the temperature: logit [${i}][${c}] is ${logits[i][c]}, expected a ` +
            "finite number",
        );
      }
    }
  }
  const nllBefore = nllAt(labels, logits, 1).f;
  // In b = 1/T the derivative increases: bracket its root within the allowed range.
  let lo = 1 / TEMPERATURE_RANGE[1];
  let hi = 1 / TEMPERATURE_RANGE[0];
  const done = (b: number, iterations: number): TemperatureFit => ({
    temperature: 1 / b,
    nllBefore,
    nllAfter: nllAt(labels, logits, b).f,
    iterations,
  });
  if (nllAt(labels, logits, lo).d1 >= 0) return done(lo, 0);
  if (nllAt(labels, logits, hi).d1 <= 0) return done(hi, 0);
  let b = 1;
  let iterations = 0;
  for (; iterations < 200; iterations++) {
    const { d1, d2 } = nllAt(labels, logits, b);
    if (d1 === 0) break;
    if (d1 < 0) lo = b;
    else hi = b;
    let next = d2 > 0 ? b - d1 / d2 : NaN;
    // Newton when it stays inside the bracket, else bisect.
    if (!(next > lo && next < hi)) next = (lo + hi) / 2;
    const step = Math.abs(next - b);
    b = next;
    if (step <= 1e-15 * b || hi - lo <= 1e-15 * b) break;
  }
  return done(b, iterations + 1);
}

/** `softmax(z / T)` of every row, in float64. */
export function applyTemperature(
  logits: ArrayLike<ArrayLike<number>>,
  temperature: number,
): number[][] {
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new RangeError(
      `Cannot apply temperature ${temperature}: expected a finite number > 0`,
    );
  }
  const out: number[][] = [];
  for (let i = 0; i < logits.length; i++) {
    const z = logits[i];
    let max = -Infinity;
    for (let c = 0; c < z.length; c++) max = Math.max(max, z[c] / temperature);
    const row = new Array<number>(z.length);
    let s = 0;
    for (let c = 0; c < z.length; c++) s += row[c] = Math.exp(z[c] / temperature - max);
    for (let c = 0; c < z.length; c++) row[c] /= s;
    out.push(row);
  }
  return out;
}
