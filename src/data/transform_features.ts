/**
 * The data contract's feature transform, applied in place.
 *
 * @module
 */
import type { FeatureStats } from "./feature_stats.ts";

/**
 * A valid step holds ±Infinity (the transform maps NaN to the mean, but nothing maps an
 * infinity), or a finite value the transform turns non-finite.
 */
export class NonFiniteFeatureError extends RangeError {
  /** Row (window) index in the data. */
  readonly row: number;
  /** Step within the window (0-based, of the stored `steps`). */
  readonly step: number;
  /** Feature name (`feature_order`). */
  readonly feature: string;
  /** The value as stored. */
  readonly value: number;

  /** Builds the error; the message names the row, step, feature and value. */
  constructor(details: { row: number; step: number; feature: string; value: number }) {
    super(
      `row ${details.row}, step ${details.step}, feature "${details.feature}" is ` +
        (Number.isFinite(details.value)
          ? `${details.value}, which the transform makes non-finite`
          : `${details.value}`),
    );
    this.name = "NonFiniteFeatureError";
    ({ row: this.row, step: this.step, feature: this.feature, value: this.value } = details);
  }
}

/**
 * Applies the contract's transform IN ORDER to pre-padded windows `x` [n, steps, features]
 * (C order), in place (no copy of the data):
 * 1. `log1p-znorm` features (counters): clip to >= 0, then `log1p`;
 * 2. NaN -> the feature's mean; 3. `(x - mean) / std`;
 * 4. padded steps (outside the last `lengths[i]` of row i) -> 0.
 * A valid step with ±Infinity, or one the transform makes non-finite, throws a
 * {@link NonFiniteFeatureError} (padded steps are zeroed whatever they hold).
 *
 * Column `j` is the feature `stats.feature_order[j]`; the feature count must match.
 */
export function transformFeatures(
  x: Float32Array,
  shape: readonly [number, number, number],
  lengths: ArrayLike<number>,
  stats: FeatureStats,
): Float32Array {
  const [n, steps, features] = shape;
  if (x.length !== n * steps * features) {
    throw new RangeError(
      `Cannot transform features: data has ${x.length} values, shape [${shape}] needs ${
        n * steps * features
      }`,
    );
  }
  if (stats.feature_order.length !== features) {
    throw new RangeError(
      `Cannot transform features: the data has ${features} features per step but ` +
        `feature_order lists ${stats.feature_order.length}; pass the feature stats computed for this data`,
    );
  }
  if (lengths.length !== n) {
    throw new RangeError(
      `Cannot transform features: expected ${n} sequence lengths, received ${lengths.length}`,
    );
  }
  const log = new Uint8Array(features);
  const mean = new Float64Array(features);
  const invStd = new Float64Array(features);
  stats.feature_order.forEach((name, j) => {
    const s = stats.per_feature[name];
    log[j] = s.transform === "log1p-znorm" ? 1 : 0;
    mean[j] = s.mean;
    invStd[j] = 1 / s.std;
  });
  for (let i = 0; i < n; i++) {
    const len = Math.max(0, Math.min(steps, lengths[i]));
    const rowStart = i * steps * features;
    const validStart = rowStart + (steps - len) * features;
    x.fill(0, rowStart, validStart);
    for (let p = validStart, end = rowStart + steps * features; p < end; p += features) {
      for (let j = 0; j < features; j++) {
        let v = x[p + j];
        if (Number.isNaN(v)) {
          v = 0; // NaN -> mean, which is 0 after z-scoring
        } else {
          if (log[j] === 1) v = Math.log1p(v > 0 ? v : 0);
          v = (v - mean[j]) * invStd[j];
          // Math.fround: the result is stored as float32, where 1e39 is already Infinity.
          if (!Number.isFinite(Math.fround(v)) || !Number.isFinite(x[p + j])) {
            throw new NonFiniteFeatureError({
              row: i,
              step: (p - rowStart) / features,
              feature: stats.feature_order[j],
              value: x[p + j],
            });
          }
        }
        x[p + j] = v;
      }
    }
  }
  return x;
}
