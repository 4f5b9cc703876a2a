/**
 * Epoch orders (shuffled or class-balanced) and per-batch window trimming.
 *
 * @module
 */
import { deriveSeed, SeededRng } from "./seeded_rng.ts";
import type { SequenceDataset } from "./sequence_dataset.ts";

/** How one epoch's batches are drawn. */
export interface EpochOrderOptions {
  readonly batchSize: number;
  /** Run seed; the order depends only on (seed, epoch). */
  readonly seed: number;
  readonly epoch: number;
  /** Draw rows with probability 1/n_c of their class (with replacement), N rows per epoch. */
  readonly weightedSampler?: boolean;
  /** Default true; false keeps file order (validation). */
  readonly shuffle?: boolean;
  /**
   * Valid lengths per row: when given, rows of similar length are batched together (sorted
   * by length within chunks of 32 batches, then the batches are shuffled), so per-batch
   * trimming cuts most of the padding. Off (undefined) = plain random batches.
   */
  readonly bucketLengths?: Int32Array;
}

/** Batches per chunk that length bucketing sorts within. */
export const LENGTH_BUCKET_CHUNK = 32;

/**
 * The row indices of every batch of one epoch. Deterministic in (seed, epoch), so a run
 * resumed at any epoch or step sees the same batches as an uninterrupted one.
 */
export function epochBatches(labels: Int32Array, options: EpochOrderOptions): Int32Array[] {
  const { batchSize } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(
      `Cannot batch rows: batchSize must be a positive integer, received ${batchSize}`,
    );
  }
  const n = labels.length;
  const rng = new SeededRng(deriveSeed(options.seed, options.epoch, 0x5348));
  let order: Int32Array;
  if (options.weightedSampler) {
    // Sampling with probability 1/n_c per row makes every class equally likely.
    const counts = new Map<number, number>();
    for (const y of labels) counts.set(y, (counts.get(y) ?? 0) + 1);
    const cumulative = new Float64Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) cumulative[i] = total += 1 / counts.get(labels[i])!;
    order = new Int32Array(n);
    for (let k = 0; k < n; k++) {
      const u = rng.next() * total;
      let lo = 0, hi = n - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cumulative[mid] > u) hi = mid;
        else lo = mid + 1;
      }
      order[k] = lo;
    }
  } else {
    order = Int32Array.from({ length: n }, (_, i) => i);
    if (options.shuffle ?? true) {
      for (let i = n - 1; i > 0; i--) {
        const j = rng.nextInt(i + 1);
        const t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
    }
  }
  const batches: Int32Array[] = [];
  const lengths = options.bucketLengths;
  if (lengths) {
    const chunk = batchSize * LENGTH_BUCKET_CHUNK;
    for (let c = 0; c < n; c += chunk) {
      const part = order.slice(c, Math.min(n, c + chunk)).sort((a, b) => lengths[a] - lengths[b]);
      for (let s = 0; s < part.length; s += batchSize) {
        batches.push(part.subarray(s, s + batchSize));
      }
    }
    for (let i = batches.length - 1; i > 0; i--) {
      const j = rng.nextInt(i + 1);
      [batches[i], batches[j]] = [batches[j], batches[i]];
    }
    return batches;
  }
  for (let s = 0; s < n; s += batchSize) {
    batches.push(order.subarray(s, Math.min(n, s + batchSize)));
  }
  return batches;
}

/** One batch on the host, trimmed to its longest valid length. */
export interface HostBatch {
  /** [size, steps, features]. */
  readonly x: Float32Array;
  /** [size, steps], 1 = valid step. */
  readonly mask: Float32Array;
  readonly labels: Int32Array;
  readonly size: number;
  readonly steps: number;
  readonly features: number;
}

/**
 * Gathers rows into a batch whose window is the batch's longest valid length (rounded up
 * to a multiple of `stepMultiple`, at most the file's window): with pre-padding this keeps
 * the last steps of every row, so nothing valid is lost and results are exact.
 */
export function gatherBatch(
  data: SequenceDataset,
  rows: ArrayLike<number>,
  stepMultiple = 1,
): HostBatch {
  const size = rows.length;
  const { features, steps: full } = data;
  let longest = 1;
  for (let k = 0; k < size; k++) longest = Math.max(longest, data.lengths[rows[k]]);
  const steps = Math.min(full, Math.ceil(longest / stepMultiple) * stepMultiple);
  const x = new Float32Array(size * steps * features);
  const mask = new Float32Array(size * steps);
  const labels = new Int32Array(size);
  const rowSize = steps * features;
  for (let k = 0; k < size; k++) {
    const r = rows[k];
    const start = (r * full + (full - steps)) * features;
    x.set(data.x.subarray(start, start + rowSize), k * rowSize);
    mask.fill(1, k * steps + steps - Math.min(steps, data.lengths[r]), (k + 1) * steps);
    labels[k] = data.labels[r];
  }
  return { x, mask, labels, size, steps, features };
}
