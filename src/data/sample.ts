/**
 * `generateSample`: seeded, Component-X-like sequence data in exactly the layout of the
 * data contract, for users who have no real files. Pure: no I/O.
 *
 * How the data is made (all per vehicle, from one seeded PRNG):
 * - a class drawn from the real mix, and a time to failure at the last readout inside the
 *   class's range (class 0: no failure, or one more than 48 steps away);
 * - a valid length 1..128 (gamma-distributed, mean about 46.5 as in the real data), with
 *   irregular readout times; windows are zero pre-padded;
 * - counters: `expm1` of N(mean, std) from the real per-feature stats (log1p space), made
 *   cumulative by a per-vehicle level plus growth over the vehicle's readouts, clipped
 *   >= 0; rarely a counter resets to zero and grows again;
 * - histograms: N(mean, std) clipped >= 0; whole families go missing (NaN) together, at a
 *   single readout or for the whole vehicle;
 * - degradation: for failing vehicles a signal `exp(-ttf / 20)` (ttf = time to failure at
 *   each readout) accelerates the growth of three counters and moves mass from the low to
 *   the high bins of the `459` and `397` histogram families, with per-vehicle strength
 *   noise, so the class is learnable from the last readouts but not trivially.
 *
 * @module
 */
import type { NpyArray } from "../npz/mod.ts";
import realStats from "./component_x_feature_stats.json" with { type: "json" };
import { Rng } from "./_sample_rng.ts";

/** Per-feature transform statistics, the layout of `feature_stats.json`. */
export interface SampleFeatureStats {
  /** The 105 feature names in the column order of `sequences`. */
  feature_order: string[];
  /** The 8 cumulative counters (transform `log1p-znorm`). */
  counters: string[];
  /** The 97 histogram bins (transform `znorm`). */
  histograms: string[];
  /** Transform and statistics per feature. */
  per_feature: Record<string, { transform: "log1p-znorm" | "znorm"; mean: number; std: number }>;
}

/** The real Component X training statistics (`feature_stats.json` of the data contract). */
export const COMPONENT_X_FEATURE_STATS: Readonly<SampleFeatureStats> = Object.freeze(
  realStats as SampleFeatureStats,
);

/** One split in the data contract's layout (`train_sequences.npz` / `val_sequences.npz`). */
export interface SampleSplit {
  /** Any key (so a split can be passed to `writeNpz`); the contract's keys follow. */
  [key: string]: NpyArray;
  /** float32 (N, steps, 105), zero pre-padded, NaN holes. */
  sequences: NpyArray<"float32">;
  /** int64 (N,), class 0..4. */
  labels: NpyArray<"int64">;
  /** int64 (N,), valid steps 1..steps. */
  seq_lengths: NpyArray<"int64">;
  /** int64 (N,), unique across both splits. */
  vehicle_ids: NpyArray<"int64">;
  /** float32 (N,), time_step of the last readout. */
  reference_time_step: NpyArray<"float32">;
}

/** Options for {@linkcode generateSample}. */
export interface SampleOptions {
  /** Training windows (>= 1). */
  trainRows: number;
  /** Validation windows (>= 1). */
  valRows: number;
  /** Seed: same seed and sizes, same data. */
  seed: number;
  /** Window length (default 128). */
  steps?: number;
  /** Statistics the values follow (default: the real Component X stats). */
  stats?: SampleFeatureStats;
}

/** What {@linkcode generateSample} returns. */
export interface SampleData {
  /** Training split, real training class mix. */
  train: SampleSplit;
  /** Validation split, real validation class mix (a few rows of every class at least). */
  val: SampleSplit;
  /** Statistics recomputed on the generated training readouts (valid steps, NaN skipped). */
  featureStats: SampleFeatureStats;
}

/** Real training label counts (class 0..4). */
export const SAMPLE_TRAIN_CLASS_COUNTS: readonly number[] = Object.freeze([
  21278,
  2232,
  2150,
  1923,
  2000,
]);
/** Real validation label counts (class 0..4). */
export const SAMPLE_VAL_CLASS_COUNTS: readonly number[] = Object.freeze([4910, 16, 14, 30, 76]);

const TTF_RANGE: readonly [number, number][] = [[48, 160], [24, 48], [12, 24], [6, 12], [0, 6]];
const DRIFT_COUNTERS = ["171_0", "666_0", "427_0"];
const SHIFT_FAMILIES = ["459", "397"];
const DEGRADATION_SCALE = 20;

/** Splits `rows` over classes by `weights` (largest remainder), at least `minEach` each. */
function allocate(rows: number, weights: readonly number[], minEach: number): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  const k = weights.length;
  const floor = Math.min(minEach, Math.floor(rows / k));
  const rest = rows - floor * k;
  const exact = weights.map((w) => (w / total) * rest);
  const counts = exact.map(Math.floor);
  let left = rest - counts.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => [e - Math.floor(e), i]).sort((a, b) => b[0] - a[0]);
  for (let j = 0; left > 0; j = (j + 1) % k, left--) counts[order[j][1]]++;
  return counts.map((c) => c + floor);
}

function checkRows(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot generate sample data: ${name} must be a positive integer, received ${value}`,
    );
  }
}

interface Layout {
  order: string[];
  mean: Float64Array;
  std: Float64Array;
  isCounter: Uint8Array;
  /** Feature indices per histogram family. */
  families: number[][];
  drift: number[];
  /** For each feature: +1 high bin / -1 low bin of a shifting family, 0 otherwise. */
  shift: Float64Array;
}

function layoutOf(stats: SampleFeatureStats): Layout {
  const order = stats.feature_order;
  const F = order.length;
  const mean = new Float64Array(F);
  const std = new Float64Array(F);
  const isCounter = new Uint8Array(F);
  const counters = new Set(stats.counters);
  const familyMap = new Map<string, number[]>();
  for (let f = 0; f < F; f++) {
    const p = stats.per_feature[order[f]];
    if (!p) {
      throw new TypeError(
        `Cannot generate sample data: feature "${order[f]}" has no per_feature entry in the stats`,
      );
    }
    mean[f] = p.mean;
    std[f] = p.std > 0 ? p.std : 1;
    if (counters.has(order[f])) isCounter[f] = 1;
    else {
      const fam = order[f].split("_")[0];
      if (!familyMap.has(fam)) familyMap.set(fam, []);
      familyMap.get(fam)!.push(f);
    }
  }
  const shift = new Float64Array(F);
  for (const fam of SHIFT_FAMILIES) {
    const idx = familyMap.get(fam) ?? [];
    const n = idx.length;
    idx.forEach((f, j) => {
      // low bins lose mass, high bins gain, linearly across the family
      shift[f] = n > 1 ? (2 * j) / (n - 1) - 1 : 0;
    });
  }
  const drift = DRIFT_COUNTERS.map((n) => order.indexOf(n)).filter((i) => i >= 0);
  return { order, mean, std, isCounter, families: [...familyMap.values()], drift, shift };
}

/** Valid length 1..steps: gamma(2, theta) (mean about 46.5 for steps = 128), rounded up. */
function sampleLength(rng: Rng, steps: number): number {
  const theta = (23.8 * steps) / 128;
  const g = rng.exp(theta) + rng.exp(theta);
  return Math.max(1, Math.min(steps, Math.ceil(g)));
}

function generateSplit(
  rng: Rng,
  classes: number[],
  steps: number,
  L: Layout,
  firstId: number,
): SampleSplit {
  const N = classes.length;
  const F = L.order.length;
  const seq = new Float32Array(N * steps * F);
  const labels = new BigInt64Array(N);
  const lengths = new BigInt64Array(N);
  const ids = new BigInt64Array(N);
  const ref = new Float32Array(N);
  const times = new Float64Array(steps);
  const sig = new Float64Array(steps);
  const level = new Float64Array(steps);
  for (let i = 0; i < N; i++) {
    const c = classes[i];
    const len = sampleLength(rng, steps);
    // readout times, and the time to failure at the last one
    let t = rng.next() * 100;
    for (let j = 0; j < len; j++) {
      t += 0.5 + rng.exp(4.5);
      times[j] = t;
    }
    const tLast = times[len - 1];
    const [lo, hi] = TTF_RANGE[c];
    const fails = c > 0 || rng.next() < 0.3;
    const ttfLast = lo + rng.next() * (hi - lo);
    const strength = fails ? 0.5 + rng.next() : 0;
    for (let j = 0; j < len; j++) {
      sig[j] = fails ? strength * Math.exp(-(ttfLast + tLast - times[j]) / DEGRADATION_SCALE) : 0;
    }
    const span = Math.max(tLast - times[0], 1e-9);
    const base = (i * steps + (steps - len)) * F;
    for (let f = 0; f < F; f++) {
      const m = L.mean[f];
      const s = L.std[f];
      if (L.isCounter[f]) {
        const z = 0.8 * rng.normal();
        const drifts = L.drift.includes(f) ? 1.5 : 0;
        for (let j = 0; j < len; j++) {
          const grow = len > 1 ? (times[j] - times[0]) / span - 0.5 : 0;
          level[j] = m + s * (z + 0.6 * grow + drifts * sig[j]);
        }
        // rare reset: the counter restarts from zero at a readout and grows again
        const reset = len > 2 && rng.next() < 0.01 ? 1 + rng.int(len - 1) : -1;
        const atReset = reset > 0 ? Math.max(0, Math.expm1(level[reset - 1])) : 0;
        for (let j = 0; j < len; j++) {
          let v = Math.max(0, Math.expm1(level[j]));
          if (reset > 0 && j >= reset) v = Math.max(0, v - atReset);
          seq[base + j * F + f] = v;
        }
      } else {
        const z = 0.7 * rng.normal();
        const sh = L.shift[f];
        for (let j = 0; j < len; j++) {
          const grow = len > 1 ? (times[j] - times[0]) / span - 0.5 : 0;
          const v = m + s * (z + 0.4 * grow + 0.5 * rng.normal() + 1.2 * sh * sig[j]);
          seq[base + j * F + f] = v > 0 ? v : 0;
        }
      }
    }
    // NaN holes: whole histogram families at once
    for (const fam of L.families) {
      const whole = rng.next() < 0.02;
      for (let j = 0; j < len; j++) {
        if (whole || rng.next() < 0.015) {
          for (const f of fam) seq[base + j * F + f] = NaN;
        }
      }
    }
    labels[i] = BigInt(c);
    lengths[i] = BigInt(len);
    ids[i] = BigInt(firstId + i);
    ref[i] = tLast;
  }
  return {
    sequences: { dtype: "float32", shape: [N, steps, F], data: seq },
    labels: { dtype: "int64", shape: [N], data: labels },
    seq_lengths: { dtype: "int64", shape: [N], data: lengths },
    vehicle_ids: { dtype: "int64", shape: [N], data: ids },
    reference_time_step: { dtype: "float32", shape: [N], data: ref },
  };
}

function shuffledClasses(rng: Rng, counts: number[]): number[] {
  const out: number[] = [];
  counts.forEach((n, c) => {
    for (let k = 0; k < n; k++) out.push(c);
  });
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Mean and population std of each feature over the valid, non-NaN readouts of a split. */
function recomputeStats(split: SampleSplit, stats: SampleFeatureStats): SampleFeatureStats {
  const [N, T, F] = split.sequences.shape;
  const x = split.sequences.data;
  const sum = new Float64Array(F);
  const sq = new Float64Array(F);
  const cnt = new Float64Array(F);
  const counters = new Set(stats.counters);
  const isCounter = stats.feature_order.map((n) => counters.has(n));
  // two passes (mean, then squared deviations) for accuracy on values near 1e8
  for (let pass = 0; pass < 2; pass++) {
    for (let i = 0; i < N; i++) {
      const len = Number(split.seq_lengths.data[i]);
      for (let j = T - len; j < T; j++) {
        const b = (i * T + j) * F;
        for (let f = 0; f < F; f++) {
          let v = x[b + f];
          if (Number.isNaN(v)) continue;
          if (isCounter[f]) v = Math.log1p(v > 0 ? v : 0);
          if (pass === 0) {
            sum[f] += v;
            cnt[f]++;
          } else {
            const d = v - sum[f] / cnt[f];
            sq[f] += d * d;
          }
        }
      }
    }
  }
  const per: SampleFeatureStats["per_feature"] = {};
  stats.feature_order.forEach((name, f) => {
    const mean = cnt[f] > 0 ? sum[f] / cnt[f] : 0;
    const std = cnt[f] > 0 ? Math.sqrt(sq[f] / cnt[f]) : 0;
    per[name] = {
      transform: isCounter[f] ? "log1p-znorm" : "znorm",
      mean,
      std: std > 0 ? std : 1,
    };
  });
  return {
    feature_order: [...stats.feature_order],
    counters: [...stats.counters],
    histograms: [...stats.histograms],
    per_feature: per,
  };
}

/**
 * Generates seeded Component-X-like train and validation splits (see the module doc) and
 * the feature statistics of the generated training readouts. Same seed, same bytes.
 *
 * Train follows the real training class mix (21278/2232/2150/1923/2000); validation the
 * real validation mix (4910/16/14/30/76) with at least min(8, valRows / 10) rows of
 * every class, so per-class validation metrics are defined.
 *
 * @throws {RangeError} rows or steps not positive integers.
 * @example
 * ```ts
 * import { generateSample } from "./mod.ts";
 * const { train, val } = generateSample({ trainRows: 64, valRows: 32, seed: 7 });
 * console.log(train.sequences.shape, val.labels.data);
 * ```
 */
export function generateSample(options: SampleOptions): SampleData {
  const steps = options.steps ?? 128;
  checkRows("trainRows", options.trainRows);
  checkRows("valRows", options.valRows);
  checkRows("steps", steps);
  if (!Number.isFinite(options.seed)) {
    throw new RangeError(
      `Cannot generate sample data: seed must be a finite number, received ${options.seed}`,
    );
  }
  const stats = options.stats ?? COMPONENT_X_FEATURE_STATS;
  const L = layoutOf(stats);
  const rng = new Rng(options.seed);
  const trainCounts = allocate(options.trainRows, SAMPLE_TRAIN_CLASS_COUNTS, 1);
  const valMin = Math.min(8, Math.floor(options.valRows / 10));
  const valCounts = allocate(options.valRows, SAMPLE_VAL_CLASS_COUNTS, Math.max(1, valMin));
  const train = generateSplit(rng, shuffledClasses(rng, trainCounts), steps, L, 100_000);
  const val = generateSplit(
    rng,
    shuffledClasses(rng, valCounts),
    steps,
    L,
    100_000 + options.trainRows,
  );
  return { train, val, featureStats: recomputeStats(train, stats) };
}
