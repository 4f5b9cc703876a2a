/**
 * The data contract's feature transform, applied in place.
 *
 * @module
 */
import type { FeatureStats } from "./feature_stats.ts";

/**
 * Applies the contract's transform IN ORDER to pre-padded windows `x` [n, steps, features]
 * (C order), in place (no copy of the data):
 * 1. `log1p-znorm` features (counters): clip to >= 0, then `log1p`;
 * 2. NaN -> the feature's mean; 3. `(x - mean) / std`;
 * 4. padded steps (outside the last `lengths[i]` of row i) -> 0.
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
        }
        x[p + j] = v;
      }
    }
  }
  return x;
}
