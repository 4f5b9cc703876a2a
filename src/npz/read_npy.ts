/**
 * `readNpy`: one `.npy` file (bytes) to an {@linkcode NpyArray}.
 *
 * @module
 */
import { decodeNpyData } from "./_npy_data.ts";
import { checkDataSize, parseNpyHeader } from "./_npy_header.ts";
import type { NpyArray } from "./npy_types.ts";

/** Options for {@linkcode readNpy}. */
export interface ReadNpyOptions {
  /** Name used in error messages (e.g. the member of an archive). Default `""`. */
  name?: string;
}

/**
 * Reads a `.npy` file (format 1.0, 2.0 or 3.0). The result never aliases `bytes`:
 * big-endian data is byte-swapped, Fortran order becomes C order, float16 is widened
 * to `Float32Array`.
 *
 * @throws {NpzFormatError} bad magic, truncated data, object/string/structured dtypes.
 * @example
 * ```ts
 * import { readNpy, writeNpy } from "./mod.ts";
 * const a = readNpy(writeNpy({ dtype: "int32", shape: [2], data: new Int32Array([1, 2]) }));
 * console.log(a.shape, a.data); // [2] Int32Array [1, 2]
 * ```
 */
export function readNpy(bytes: Uint8Array, options: ReadNpyOptions = {}): NpyArray {
  const name = options.name ?? "";
  const h = parseNpyHeader(bytes, name, 0);
  const body = bytes.subarray(h.dataOffset);
  checkDataSize(h, body.length, name, 0);
  return decodeNpyData(h, body, false);
}
