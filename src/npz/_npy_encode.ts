// Encoding helpers shared by writeNpy and writeNpz.
import { floatToHalf } from "./float16.ts";
import { NATIVE_ITEM_SIZE, NPY_DESCR } from "./_npy_header.ts";
import { NPY_DTYPES } from "./npy_types.ts";
import type { NpyArray, NpyDtype } from "./npy_types.ts";

const CTOR: Record<NpyDtype, string> = {
  bool: "Uint8Array",
  int8: "Int8Array",
  uint8: "Uint8Array",
  int16: "Int16Array",
  uint16: "Uint16Array",
  int32: "Int32Array",
  uint32: "Uint32Array",
  int64: "BigInt64Array",
  uint64: "BigUint64Array",
  float16: "Float32Array",
  float32: "Float32Array",
  float64: "Float64Array",
};

/** Checks dtype, shape and data of an array about to be written; returns element count. */
export function validateNpyArray(array: NpyArray, name: string): number {
  const label = name === "" ? "the array" : `array "${name}"`;
  if (!NPY_DTYPES.includes(array?.dtype)) {
    throw new TypeError(
      `Cannot write ${label}: unknown dtype ${JSON.stringify(array?.dtype)}; allowed: ` +
        NPY_DTYPES.join(", "),
    );
  }
  if (
    !Array.isArray(array.shape) ||
    !array.shape.every((d) => Number.isSafeInteger(d) && d >= 0)
  ) {
    throw new TypeError(
      `Cannot write ${label}: shape must be an array of non-negative integers, received ` +
        JSON.stringify(array.shape),
    );
  }
  const want = CTOR[array.dtype];
  const got = (array.data as { constructor?: { name?: string } })?.constructor?.name;
  if (got !== want) {
    throw new TypeError(
      `Cannot write ${label}: dtype ${array.dtype} needs data as ${want}, received ${got}`,
    );
  }
  const n = array.shape.reduce((a, b) => a * b, 1);
  if (array.data.length !== n) {
    throw new RangeError(
      `Cannot write ${label}: shape (${array.shape.join(", ")}) needs ${n} elements, ` +
        `data has ${array.data.length}`,
    );
  }
  return n;
}

/** Builds the `.npy` header (magic, version, length, padded dict) for dtype and shape. */
export function encodeNpyHeader(dtype: NpyDtype, shape: readonly number[]): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  const dict = `{'descr': '${NPY_DESCR[dtype]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  let version = 1;
  let pre = 10;
  let total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  if (total - pre > 0xffff) {
    version = 2;
    pre = 12;
    total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  }
  const out = new Uint8Array(total);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const len = total - pre;
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, len, true);
  else dv.setUint32(8, len, true);
  for (let i = 0; i < dict.length; i++) out[pre + i] = dict.charCodeAt(i);
  out.fill(0x20, pre + dict.length, total - 1);
  out[total - 1] = 0x0a;
  return out;
}

/** The little-endian data block of `array` (a view of `array.data` when possible). */
export function encodeNpyData(array: NpyArray): Uint8Array {
  const d = array.data;
  if (array.dtype === "float16") {
    const out = new Uint8Array(d.length * 2);
    const dv = new DataView(out.buffer);
    const f = d as Float32Array;
    for (let i = 0; i < f.length; i++) dv.setUint16(2 * i, floatToHalf(f[i]), true);
    return out;
  }
  return new Uint8Array(d.buffer, d.byteOffset, d.length * NATIVE_ITEM_SIZE[array.dtype]);
}
