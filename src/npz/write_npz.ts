/**
 * `writeNpz`: arrays to a `.npz` archive, like `np.savez` / `np.savez_compressed`.
 *
 * @module
 */
import { deflateSync } from "fflate";
import { crc32, crc32Update } from "./crc32.ts";
import { encodeNpyData, encodeNpyHeader, validateNpyArray } from "./_npy_encode.ts";
import { zipEndRecords, zipHeader } from "./_zip_write.ts";
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
  const tail = zipEndRecords(cdOffset, cdSize, count, options.forceZip64 === true);
  const all = [...parts, ...central, ...tail];
  const out = new Uint8Array(all.reduce((a, c) => a + c.length, 0));
  let p = 0;
  for (const c of all) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}
