/**
 * Types shared by the `.npy` / `.npz` reader and writer.
 *
 * @module
 */

/** numpy's name of a supported (native-endian) element type. */
export type NpyDtype =
  | "bool"
  | "int8"
  | "int16"
  | "int32"
  | "int64"
  | "uint8"
  | "uint16"
  | "uint32"
  | "uint64"
  | "float16"
  | "float32"
  | "float64";

/** The typed array that holds each dtype (float16 is widened to `Float32Array`). */
export interface NpyDataMap {
  /** `bool` data. */
  bool: Uint8Array;
  /** `int8` data. */
  int8: Int8Array;
  /** `int16` data. */
  int16: Int16Array;
  /** `int32` data. */
  int32: Int32Array;
  /** `int64` data. */
  int64: BigInt64Array;
  /** `uint8` data. */
  uint8: Uint8Array;
  /** `uint16` data. */
  uint16: Uint16Array;
  /** `uint32` data. */
  uint32: Uint32Array;
  /** `uint64` data. */
  uint64: BigUint64Array;
  /** `float16` data. */
  float16: Float32Array;
  /** `float32` data. */
  float32: Float32Array;
  /** `float64` data. */
  float64: Float64Array;
}

/** Any typed array an {@linkcode NpyArray} may hold. */
export type NpyTypedArray = NpyDataMap[NpyDtype];

/**
 * One n-dimensional array: `data` in C (row-major) order and native byte order,
 * `data.length === shape.reduce((a, b) => a * b, 1)` (1 for a 0-d array).
 */
export interface NpyArray<D extends NpyDtype = NpyDtype> {
  /** numpy's name of the element type. */
  dtype: D;
  /** Dimensions; `[]` for a 0-d array. */
  shape: number[];
  /** Elements in C order, native byte order. */
  data: NpyDataMap[D];
}

/** Every supported dtype, in a stable order. */
export const NPY_DTYPES: readonly NpyDtype[] = Object.freeze([
  "bool",
  "int8",
  "int16",
  "int32",
  "int64",
  "uint8",
  "uint16",
  "uint32",
  "uint64",
  "float16",
  "float32",
  "float64",
] as NpyDtype[]);
