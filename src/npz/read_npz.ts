/**
 * `readNpz`: a whole `.npz` archive (bytes) to arrays keyed by name.
 *
 * @module
 */
import { inflateSync } from "fflate";
import { crc32Update } from "./crc32.ts";
import { decodeNpyData } from "./_npy_data.ts";
import { checkDataSize, parseNpyHeader } from "./_npy_header.ts";
import {
  arrayKeyOf,
  checkCrc,
  checkEntrySupported,
  DEFAULT_MAX_MEMBER_BYTES,
  localDataOffset,
  locateCentralDirectory,
  parseCentralDirectory,
  parseZip64Record,
  ZIP_TAIL_BYTES,
  type ZipEntry,
} from "./_zip.ts";
import type { NpyArray } from "./npy_types.ts";
import { NpzFormatError } from "./npz_format_error.ts";

/** Options for {@linkcode readNpz}. */
export interface ReadNpzOptions {
  /** Refuse members whose declared uncompressed size is larger. Default 4 GiB. */
  maxMemberBytes?: number;
  /** Verify each member's CRC-32 (default true). */
  verifyCrc?: boolean;
  /**
   * CRC-32 implementation, `(bytes, crcSoFar) => crc` (node's `zlib.crc32` signature).
   * Default: a portable JavaScript one (~200-1000 MB/s); Deno edges pass `node:zlib`'s,
   * which is several times faster.
   */
  crc32?: Crc32Fn;
}

/** A CRC-32 function: `(bytes, crcSoFar = 0) => crc`, unsigned. */
export type Crc32Fn = (bytes: Uint8Array, value: number) => number;

/** The portable JavaScript CRC-32 used when no faster one is given. */
export const portableCrc32: Crc32Fn = (bytes: Uint8Array, value: number): number =>
  crc32Update(value, bytes);

/** Lists the central directory of an in-memory zip. */
function listZipEntries(bytes: Uint8Array): ZipEntry[] {
  const tailOffset = Math.max(0, bytes.length - ZIP_TAIL_BYTES);
  let loc = locateCentralDirectory(bytes.subarray(tailOffset), tailOffset);
  if (loc.kind === "zip64") {
    loc = parseZip64Record(bytes.subarray(loc.recordOffset), loc.recordOffset);
  }
  if (loc.kind !== "cd") throw new Error("unreachable");
  if (loc.cdOffset + loc.cdSize > bytes.length) {
    throw new NpzFormatError(
      `Cannot read npz archive: the central directory (offset ${loc.cdOffset}) lies past the ` +
        `end of the ${bytes.length}-byte input; the file is truncated`,
      "",
      loc.cdOffset,
    );
  }
  return parseCentralDirectory(
    bytes.subarray(loc.cdOffset, loc.cdOffset + loc.cdSize),
    loc.cdOffset,
    loc.count,
  );
}

/** Reads one member's raw (uncompressed) bytes; inflates into a fresh buffer. */
function memberBytes(bytes: Uint8Array, e: ZipEntry, crc: Crc32Fn | null): Uint8Array {
  const start = localDataOffset(bytes.subarray(e.localHeaderOffset, e.localHeaderOffset + 30), e);
  const end = start + e.compressedSize;
  if (end > bytes.length) {
    throw new NpzFormatError(
      `Cannot read member "${e.name}": its data (${e.compressedSize} bytes at offset ${start}) ` +
        `runs past the end of the ${bytes.length}-byte input; the file is truncated`,
      e.name,
      bytes.length,
    );
  }
  let raw: Uint8Array;
  if (e.method === 0) {
    raw = bytes.subarray(start, end);
  } else {
    const out = new Uint8Array(e.size);
    try {
      raw = inflateSync(bytes.subarray(start, end), { out });
    } catch (cause) {
      throw new NpzFormatError(
        `Cannot read member "${e.name}": corrupt deflate stream (${(cause as Error).message})`,
        e.name,
        start,
        { cause },
      );
    }
    if (raw.length !== e.size) {
      throw new NpzFormatError(
        `Cannot read member "${e.name}": inflated to ${raw.length} bytes, the directory ` +
          `declares ${e.size}; the file is corrupt`,
        e.name,
        start,
      );
    }
  }
  if (crc) checkCrc(e, crc(raw, 0) >>> 0, start);
  return raw;
}

/**
 * Reads a `.npz` archive as written by `np.savez` (stored) or `np.savez_compressed`
 * (deflate), including zip64 archives. Keys are member names without `.npy` (names may
 * contain `/` and dots); members not ending in `.npy` are skipped. Holds at most the input
 * plus one copy of the arrays: deflated members are inflated straight into the buffer that
 * backs the returned array.
 *
 * @throws {NpzFormatError} with the member and offset, for any malformed or unsupported input.
 * @example
 * ```ts
 * import { readNpz, writeNpz } from "./mod.ts";
 * const bytes = writeNpz({ x: { dtype: "float32", shape: [2], data: new Float32Array([1, 2]) } });
 * console.log(readNpz(bytes).x.data); // Float32Array [1, 2]
 * ```
 */
export function readNpz(bytes: Uint8Array, options: ReadNpzOptions = {}): Record<string, NpyArray> {
  const max = options.maxMemberBytes ?? DEFAULT_MAX_MEMBER_BYTES;
  const crc = (options.verifyCrc ?? true) ? (options.crc32 ?? portableCrc32) : null;
  const result: Record<string, NpyArray> = {};
  for (const e of listZipEntries(bytes)) {
    const key = arrayKeyOf(e.name);
    if (key === null) continue;
    checkEntrySupported(e, max);
    const raw = memberBytes(bytes, e, crc);
    const h = parseNpyHeader(raw, e.name, e.localHeaderOffset);
    const body = raw.subarray(h.dataOffset);
    checkDataSize(h, body.length, e.name, e.localHeaderOffset);
    // Inflated buffers are ours: view them in place when aligned.
    result[key] = decodeNpyData(h, body, e.method === 8);
  }
  return result;
}
