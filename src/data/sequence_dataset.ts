/**
 * Sequence windows, labels and valid lengths taken from npz arrays, in the contract's
 * pre-padded layout.
 *
 * @module
 */
import type { NpyArray } from "../npz/npy_types.ts";

/** The number of classes of the Component X contract (time-to-failure buckets 0..4). */
export const NUM_CLASSES = 5;

/** The npz members holding the windows, the labels and the valid lengths. */
export interface SequenceKeys {
  readonly xKey: string;
  readonly yKey: string;
  /** A `mask` (N, T) member is used when this one is absent. */
  readonly lengthsKey: string;
}

/** The data contract's member names. */
export const DEFAULT_SEQUENCE_KEYS: SequenceKeys = Object.freeze({
  xKey: "sequences",
  yKey: "labels",
  lengthsKey: "seq_lengths",
});

/** Pre-padded windows ready for batching: the valid steps of row i are its last `lengths[i]`. */
export interface SequenceDataset {
  /** [size, steps, features], C order. */
  readonly x: Float32Array;
  readonly labels: Int32Array;
  /** Valid steps per row, 1..steps. */
  readonly lengths: Int32Array;
  readonly size: number;
  /** Window length, read from the file. */
  readonly steps: number;
  /** Features per step, read from the file. */
  readonly features: number;
  /** K: every label is in 0..K-1 (given, or the file's largest label + 1). */
  readonly numClasses: number;
  /** One id per row (e.g. the vehicle), when the file has an `idsKey` member of shape (N,). */
  readonly ids?: ArrayLike<number | bigint>;
}

/** Where the arrays live in the npz, and how to name the file in errors. */
export interface SequenceDatasetOptions {
  /** Default `sequences`. */
  readonly xKey?: string;
  /** Default `labels`. */
  readonly yKey?: string;
  /** Default `seq_lengths`; a `mask` (N, T) member is used when this key is absent. */
  readonly lengthsKey?: string;
  /** How data with a lengths key is padded; `"post"` is moved to pre-padding. Default `"pre"`. */
  readonly padding?: "pre" | "post";
  /**
   * K, when known (a task's class names, `--num-classes`): a label outside 0..K-1 is an
   * error. Default: the file's largest label + 1 (at least 1).
   */
  readonly numClasses?: number;
  /** Where `numClasses` came from, for errors (e.g. `--num-classes 5`). */
  readonly numClassesSource?: string;
  /** The file, for error messages (e.g. `--train-npz data/train.npz`). */
  readonly source?: string;
  /** Every member of the file, for error messages, when `arrays` holds only some. */
  readonly members?: readonly string[];
  /** A member with one id per row (e.g. `vehicle_ids`), kept as `ids` when its shape fits. */
  readonly idsKey?: string;
  /**
   * How errors name the key options (default: the option names, e.g. `xKey`); the CLI
   * passes its flags (`--x-key`, ...).
   */
  readonly keyLabels?: Readonly<Partial<Record<keyof SequenceKeys, string>>>;
}

/** [largest label + 1], or [] when there are no labels (spread-safe for large arrays). */
function maxLabelPlusOne(labels: Int32Array): number[] {
  let max = -1;
  for (let i = 0; i < labels.length; i++) if (labels[i] > max) max = labels[i];
  return max < 0 ? [] : [max + 1];
}

function checkLabels(
  labels: Int32Array,
  numClasses: number,
  prefix: string,
  numClassesSource?: string,
): void {
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (y < 0 || y >= numClasses) {
      const from = numClassesSource ? ` (${numClasses} classes from ${numClassesSource})` : "";
      throw new RangeError(
        `${prefix}[${i}] = ${y} is outside 0..${numClasses - 1}${from}` +
          (y < 0 ? "; labels must be class indices 0..K-1" : ""),
      );
    }
  }
}

/**
 * The dataset with K = `numClasses` (e.g. train and val brought to one K, or a task's):
 * every label must be in 0..K-1. `source` names the data in errors.
 */
export function withNumClasses(
  data: SequenceDataset,
  numClasses: number,
  source = "the data",
  numClassesSource?: string,
): SequenceDataset {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new RangeError(
      `Cannot set the number of classes of ${source}: expected a positive integer, received ` +
        numClasses,
    );
  }
  if (numClasses === data.numClasses) return data;
  checkLabels(data.labels, numClasses, `Cannot use ${source}: label`, numClassesSource);
  return Object.freeze({ ...data, numClasses });
}

function toInts(a: NpyArray, what: string, source: string): Int32Array {
  const out = new Int32Array(a.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = Number(a.data[i]);
    if (!Number.isInteger(v)) {
      throw new RangeError(
        `Cannot read ${what} from ${source}: expected integers, received ${v} at index ${i}`,
      );
    }
    out[i] = v;
  }
  return out;
}

/** Moves each row's valid steps (given by `valid(i, t)`) to the end, in order, in place. */
function toPrePadding(
  x: Float32Array,
  n: number,
  steps: number,
  features: number,
  valid: (i: number, t: number) => boolean,
): Int32Array {
  const lengths = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const row = i * steps * features;
    // Walk backwards so a step is never overwritten before it is moved.
    let dst = steps - 1;
    for (let t = steps - 1; t >= 0; t--) {
      if (!valid(i, t)) continue;
      if (dst !== t) {
        x.copyWithin(row + dst * features, row + t * features, row + (t + 1) * features);
      }
      dst--;
    }
    lengths[i] = steps - 1 - dst;
    x.fill(0, row, row + (dst + 1) * features);
  }
  return lengths;
}

/**
 * Builds a {@link SequenceDataset} from npz members. The window length and feature count
 * come from the `x` member's shape. Lengths come from `lengthsKey`, else from a `mask`
 * (N, T) member (any valid pattern; converted to pre-padding in place). The float32 `x`
 * array is used without a copy (float64 is narrowed).
 */
export function createSequenceDataset(
  arrays: Readonly<Record<string, NpyArray>>,
  options: SequenceDatasetOptions = {},
): SequenceDataset {
  const xKey = options.xKey ?? DEFAULT_SEQUENCE_KEYS.xKey;
  const yKey = options.yKey ?? DEFAULT_SEQUENCE_KEYS.yKey;
  const lengthsKey = options.lengthsKey ?? DEFAULT_SEQUENCE_KEYS.lengthsKey;
  const label = (key: keyof SequenceKeys) => options.keyLabels?.[key] ?? `the ${key} option`;
  const source = options.source ?? "the npz file";
  const present = (options.members ?? Object.keys(arrays)).join(", ") || "(none)";
  const missing = (key: string, flag: string): never => {
    throw new RangeError(
      `Cannot load sequences from ${source}: no member "${key}" (members: ${present}); ` +
        `name the right one with ${flag}`,
    );
  };
  const xa = arrays[xKey] ?? missing(xKey, label("xKey"));
  const ya = arrays[yKey] ?? missing(yKey, label("yKey"));
  if (xa.shape.length !== 3) {
    throw new RangeError(
      `Cannot load sequences from ${source}: "${xKey}" must have shape (N, steps, features), ` +
        `received (${xa.shape.join(", ")})`,
    );
  }
  const [n, steps, features] = xa.shape;
  if (xa.dtype !== "float32" && xa.dtype !== "float64" && xa.dtype !== "float16") {
    throw new TypeError(
      `Cannot load sequences from ${source}: "${xKey}" must be float32 or float64, received ${xa.dtype}`,
    );
  }
  const x = xa.data instanceof Float32Array ? xa.data : Float32Array.from(xa.data as Float64Array);
  if (ya.shape.length !== 1 || ya.shape[0] !== n) {
    throw new RangeError(
      `Cannot load sequences from ${source}: "${yKey}" must have shape (${n},), received (${
        ya.shape.join(", ")
      })`,
    );
  }
  const labels = toInts(ya, `"${yKey}"`, source);
  const numClasses = options.numClasses ?? Math.max(1, ...maxLabelPlusOne(labels));
  checkLabels(
    labels,
    numClasses,
    `Cannot load sequences from ${source}: "${yKey}"`,
    options.numClassesSource,
  );

  let lengths: Int32Array;
  const la = arrays[lengthsKey];
  const ma = arrays.mask;
  if (la) {
    if (la.shape.length !== 1 || la.shape[0] !== n) {
      throw new RangeError(
        `Cannot load sequences from ${source}: "${lengthsKey}" must have shape (${n},), received (${
          la.shape.join(", ")
        })`,
      );
    }
    lengths = toInts(la, `"${lengthsKey}"`, source);
    lengths.forEach((len, i) => {
      if (len < 1 || len > steps) {
        throw new RangeError(
          `Cannot load sequences from ${source}: "${lengthsKey}"[${i}] = ${len} is outside 1..${steps}`,
        );
      }
    });
    if (options.padding === "post") {
      lengths = toPrePadding(x, n, steps, features, (i, t) => t < lengths[i]);
    }
  } else if (ma) {
    if (ma.shape.length !== 2 || ma.shape[0] !== n || ma.shape[1] !== steps) {
      throw new RangeError(
        `Cannot load sequences from ${source}: "mask" must have shape (${n}, ${steps}), received (${
          ma.shape.join(", ")
        })`,
      );
    }
    const m = ma.data;
    lengths = toPrePadding(x, n, steps, features, (i, t) => Number(m[i * steps + t]) !== 0);
    const empty = lengths.findIndex((len) => len === 0);
    if (empty >= 0) {
      throw new RangeError(
        `Cannot load sequences from ${source}: row ${empty} of "mask" has no valid step`,
      );
    }
  } else {
    throw new RangeError(
      `Cannot load sequences from ${source}: it has neither "${lengthsKey}" nor "mask" ` +
        `(members: ${present}); name the lengths member with ${label("lengthsKey")}`,
    );
  }
  const idsArray = options.idsKey === undefined ? undefined : arrays[options.idsKey];
  const ids = idsArray && idsArray.shape.length === 1 && idsArray.shape[0] === n
    ? (idsArray.data as ArrayLike<number | bigint>)
    : undefined;
  const dataset: SequenceDataset = { x, labels, lengths, size: n, steps, features, numClasses };
  return Object.freeze(ids === undefined ? dataset : { ...dataset, ids });
}
