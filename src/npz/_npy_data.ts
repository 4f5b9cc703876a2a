// Decoding of the .npy data block into typed arrays (half floats, byte order, Fortran order).
import { NATIVE_ITEM_SIZE, type NpyHeader } from "./_npy_header.ts";
import type { NpyArray, NpyDtype, NpyTypedArray } from "./npy_types.ts";
import { halfToFloat } from "./float16.ts";

function makeTyped(dtype: NpyDtype, buf: ArrayBuffer, off: number, n: number): NpyTypedArray {
  switch (dtype) {
    case "bool":
    case "uint8":
      return new Uint8Array(buf, off, n);
    case "int8":
      return new Int8Array(buf, off, n);
    case "int16":
      return new Int16Array(buf, off, n);
    case "uint16":
      return new Uint16Array(buf, off, n);
    case "int32":
      return new Int32Array(buf, off, n);
    case "uint32":
      return new Uint32Array(buf, off, n);
    case "int64":
      return new BigInt64Array(buf, off, n);
    case "uint64":
      return new BigUint64Array(buf, off, n);
    case "float16":
    case "float32":
      return new Float32Array(buf, off, n);
    case "float64":
      return new Float64Array(buf, off, n);
  }
}

/** Allocates a zeroed typed array of `dtype` with `n` elements. */
export function allocTyped(dtype: NpyDtype, n: number): NpyTypedArray {
  return makeTyped(dtype, new ArrayBuffer(n * NATIVE_ITEM_SIZE[dtype]), 0, n);
}

const HOST_LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reorders a Fortran-order array into C order. */
function fortranToC(src: NpyTypedArray, shape: number[], dtype: NpyDtype): NpyTypedArray {
  const n = src.length;
  const out = allocTyped(dtype, n);
  const nd = shape.length;
  if (nd <= 1 || n === 0) {
    (out as Uint8Array).set(src as Uint8Array);
    return out;
  }
  const fstride = new Array<number>(nd);
  let s = 1;
  for (let d = 0; d < nd; d++) {
    fstride[d] = s;
    s *= shape[d];
  }
  const idx = new Array<number>(nd).fill(0);
  let f = 0;
  const o = out as unknown as { [i: number]: number | bigint };
  const iv = src as unknown as { [i: number]: number | bigint };
  for (let c = 0; c < n; c++) {
    o[c] = iv[f];
    for (let d = nd - 1; d >= 0; d--) {
      idx[d]++;
      f += fstride[d];
      if (idx[d] < shape[d]) break;
      f -= fstride[d] * shape[d];
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * Decodes the data block `src` (at least `h.dataBytes` bytes) into an {@linkcode NpyArray}.
 * With `adopt`, an aligned native-order block is viewed in place instead of copied.
 */
export function decodeNpyData(h: NpyHeader, src: Uint8Array, adopt: boolean): NpyArray {
  const n = h.count;
  let data: NpyTypedArray;
  if (h.dtype === "float16") {
    const out = new Float32Array(n);
    const dv = new DataView(src.buffer, src.byteOffset, h.dataBytes);
    for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(2 * i, h.littleEndian));
    data = out;
  } else {
    const size = h.itemSize;
    const native = size === 1 || h.littleEndian === HOST_LITTLE;
    if (adopt && native && src.byteOffset % size === 0) {
      data = makeTyped(h.dtype, src.buffer as ArrayBuffer, src.byteOffset, n);
    } else {
      const copy = new Uint8Array(h.dataBytes);
      copy.set(src.subarray(0, h.dataBytes));
      if (!native) {
        for (let i = 0; i < copy.length; i += size) {
          for (let a = i, b = i + size - 1; a < b; a++, b--) {
            const t = copy[a];
            copy[a] = copy[b];
            copy[b] = t;
          }
        }
      }
      data = makeTyped(h.dtype, copy.buffer, 0, n);
    }
  }
  if (h.fortranOrder && h.shape.length > 1) data = fortranToC(data, h.shape, h.dtype);
  return { dtype: h.dtype, shape: h.shape.slice(), data } as NpyArray;
}
