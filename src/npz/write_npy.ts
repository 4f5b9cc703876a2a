/**
 * `writeNpy`: an {@linkcode NpyArray} to `.npy` bytes that numpy's `np.load` reads.
 *
 * @module
 */
import { encodeNpyData, encodeNpyHeader, validateNpyArray } from "./_npy_encode.ts";
import type { NpyArray } from "./npy_types.ts";

/**
 * Writes `array` as a `.npy` file (format 1.0, or 2.0 when the header needs it), C order,
 * little-endian, header padded to 64 bytes like numpy.
 *
 * @throws {TypeError} unknown dtype, bad shape, or data of the wrong typed-array class.
 * @throws {RangeError} `data.length` differs from the shape's element count.
 */
export function writeNpy(array: NpyArray): Uint8Array {
  validateNpyArray(array, "");
  const header = encodeNpyHeader(array.dtype, array.shape);
  const body = encodeNpyData(array);
  const out = new Uint8Array(header.length + body.length);
  out.set(header);
  out.set(body, header.length);
  return out;
}
