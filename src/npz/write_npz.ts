/**
 * `writeNpz`: arrays to a `.npz` archive, like `np.savez` / `np.savez_compressed`.
 *
 * @module
 */
import { deflateSync } from "fflate";
import { crc32, crc32Update } from "./_crc32.ts";
import { encodeNpyData, encodeNpyHeader, validateNpyArray } from "./_npy_encode.ts";
import type { NpyArray } from "./npy_types.ts";

/** Options for {@linkcode writeNpz}. */
export interface WriteNpzOptions {
  /** Deflate members like `np.savez_compressed` (default false: stored, like `np.savez`). */
  compress?: boolean;
  /** Deflate level 0..9 (default 6, zlib's default). */
  level?: number;
  /**
   * Write zip64 extras in every header and zip64 end records even when not needed
   * (default false: only when sizes or offsets reach 4 GiB or there are 65535+ members).
   */
  forceZip64?: boolean;
}

const LEVELS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] as const;

/**
 * Writes `arrays` as a `.npz` zip (member `<key>.npy` per array, zip64 when sizes or
 * offsets need it) that numpy's `np.load` reads back exactly.
 *
 * @throws {TypeError} / {RangeError} for an invalid array (see `writeNpy`) or option.
 * @example
 * ```ts
 * import { writeNpz } from "./mod.ts";
 * const labels = { dtype: "int64", shape: [3], data: new BigInt64Array([0n, 4n, 1n]) } as const;
 * const bytes = writeNpz({ labels }, { compress: true });
 * ```
 */
export function writeNpz(
  arrays: Record<string, NpyArray>,
  options: WriteNpzOptions = {},
): Uint8Array {
  const compress = options.compress ?? false;
  const level = options.level ?? 6;
  if (!LEVELS.includes(level as typeof LEVELS[number])) {
    throw new RangeError(
      `Cannot write npz archive: level must be an integer 0..9, received ${level}`,
    );
  }
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [key, array] of Object.entries(arrays)) {
    if (key === "") throw new TypeError("Cannot write npz archive: an array key is empty");
    validateNpyArray(array, key);
    const name = enc.encode(`${key}.npy`);
    const header = encodeNpyHeader(array.dtype, array.shape);
    const body = encodeNpyData(array);
    const size = header.length + body.length;
    const crc = crc32Update(crc32(header), body);
    let payload: Uint8Array[];
    let csize: number;
    if (compress) {
      const all = new Uint8Array(size);
      all.set(header);
      all.set(body, header.length);
      const z = deflateSync(all, { level: level as typeof LEVELS[number] });
      payload = [z];
      csize = z.length;
    } else {
      payload = [header, body];
      csize = size;
    }
    const big = options.forceZip64 === true || size >= 0xffffffff || csize >= 0xffffffff ||
      offset >= 0xffffffff;
    const local = zipHeader(0x04034b50, name, crc, csize, size, compress, big, -1);
    parts.push(local, ...payload);
    central.push(zipHeader(0x02014b50, name, crc, csize, size, compress, big, offset));
    offset += local.length + csize;
  }
  const cdOffset = offset;
  const cdSize = central.reduce((a, c) => a + c.length, 0);
  const count = central.length;
  const tail: Uint8Array[] = [];
  if (options.forceZip64 === true || cdOffset + cdSize >= 0xffffffff || count >= 0xffff) {
    const rec = new Uint8Array(56 + 20);
    const dv = new DataView(rec.buffer);
    dv.setUint32(0, 0x06064b50, true);
    dv.setBigUint64(4, 44n, true);
    dv.setUint16(12, 45, true);
    dv.setUint16(14, 45, true);
    dv.setBigUint64(24, BigInt(count), true);
    dv.setBigUint64(32, BigInt(count), true);
    dv.setBigUint64(40, BigInt(cdSize), true);
    dv.setBigUint64(48, BigInt(cdOffset), true);
    dv.setUint32(56, 0x07064b50, true);
    dv.setBigUint64(64, BigInt(cdOffset + cdSize), true);
    dv.setUint32(72, 1, true);
    tail.push(rec);
  }
  const eocd = new Uint8Array(22);
  const dv = new DataView(eocd.buffer);
  dv.setUint32(0, 0x06054b50, true);
  dv.setUint16(8, Math.min(count, 0xffff), true);
  dv.setUint16(10, Math.min(count, 0xffff), true);
  dv.setUint32(12, Math.min(cdSize, 0xffffffff), true);
  dv.setUint32(16, Math.min(cdOffset, 0xffffffff), true);
  tail.push(eocd);
  const all = [...parts, ...central, ...tail];
  const out = new Uint8Array(all.reduce((a, c) => a + c.length, 0));
  let p = 0;
  for (const c of all) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

/** A local (`offset < 0`) or central zip header with an optional zip64 extra field. */
function zipHeader(
  sig: number,
  name: Uint8Array,
  crc: number,
  csize: number,
  size: number,
  deflated: boolean,
  zip64: boolean,
  offset: number,
): Uint8Array {
  const isCentral = offset >= 0;
  const fixed = isCentral ? 46 : 30;
  const extra = zip64 ? (isCentral ? 28 : 20) : 0;
  const h = new Uint8Array(fixed + name.length + extra);
  const dv = new DataView(h.buffer);
  dv.setUint32(0, sig, true);
  const version = zip64 ? 45 : 20;
  let p = 4;
  if (isCentral) dv.setUint16(p, version, true), p += 2; // version made by
  dv.setUint16(p, version, true); // version needed
  dv.setUint16(p + 2, 0x800, true); // flags: UTF-8 names
  dv.setUint16(p + 4, deflated ? 8 : 0, true);
  dv.setUint16(p + 6, 0, true); // time
  dv.setUint16(p + 8, (1980 - 1980) << 9 | 1 << 5 | 1, true); // date 1980-01-01
  dv.setUint32(p + 10, crc, true);
  dv.setUint32(p + 14, zip64 ? 0xffffffff : csize, true);
  dv.setUint32(p + 18, zip64 ? 0xffffffff : size, true);
  dv.setUint16(p + 22, name.length, true);
  dv.setUint16(p + 24, extra, true);
  if (isCentral) {
    dv.setUint32(42, zip64 ? 0xffffffff : offset, true);
    dv.setUint32(38, 0o100644 << 16, true); // external attrs: regular file
  }
  h.set(name, fixed);
  if (zip64) {
    const e = fixed + name.length;
    dv.setUint16(e, 0x0001, true);
    dv.setUint16(e + 2, extra - 4, true);
    dv.setBigUint64(e + 4, BigInt(size), true);
    dv.setBigUint64(e + 12, BigInt(csize), true);
    if (isCentral) dv.setBigUint64(e + 20, BigInt(offset), true);
  }
  return h;
}
