// Zip container parsing (end of central directory, zip64, central and local headers).
import { NpzFormatError } from "./npz_format_error.ts";

/** One central-directory entry. */
export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

/** Where the central directory is, or where the zip64 record must be read from. */
export type CdLocation =
  | { kind: "cd"; cdOffset: number; cdSize: number; count: number }
  | { kind: "zip64"; recordOffset: number };

const EOCD_SIG = 0x06054b50;
const Z64_LOC_SIG = 0x07064b50;
const Z64_EOCD_SIG = 0x06064b50;
const CEN_SIG = 0x02014b50;
const LOC_SIG = 0x04034b50;

function u64(dv: DataView, off: number): number {
  const v = Number(dv.getBigUint64(off, true));
  return v;
}

/** How many bytes at the end of a file {@linkcode locateCentralDirectory} wants. */
export const ZIP_TAIL_BYTES = 22 + 0xffff + 20;

/** Finds the end-of-central-directory record in `tail` (the last bytes of the file). */
export function locateCentralDirectory(tail: Uint8Array, tailOffset: number): CdLocation {
  const dv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  for (let p = tail.length - 22; p >= 0 && p >= tail.length - 22 - 0xffff; p--) {
    if (dv.getUint32(p, true) !== EOCD_SIG) continue;
    const commentLen = dv.getUint16(p + 20, true);
    if (p + 22 + commentLen !== tail.length) continue;
    const count = dv.getUint16(p + 10, true);
    const cdSize = dv.getUint32(p + 12, true);
    const cdOffset = dv.getUint32(p + 16, true);
    if (
      (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) && p >= 20 &&
      dv.getUint32(p - 20, true) === Z64_LOC_SIG
    ) {
      return { kind: "zip64", recordOffset: u64(dv, p - 20 + 8) };
    }
    if (cdOffset + cdSize > tailOffset + p) {
      throw new NpzFormatError(
        `Cannot read npz archive: the central directory (offset ${cdOffset}, ${cdSize} bytes) ` +
          `runs past the end-of-directory record at ${tailOffset + p}; the file is corrupt`,
        "",
        tailOffset + p,
      );
    }
    return { kind: "cd", cdOffset, cdSize, count };
  }
  const head = Array.from(tail.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
  const isZipStart = tailOffset === 0 && tail[0] === 0x50 && tail[1] === 0x4b;
  throw new NpzFormatError(
    `Cannot read npz archive: no zip end-of-central-directory record found (file of ` +
      `${tailOffset + tail.length} bytes starting ${head || "empty"}); ` +
      (isZipStart || tailOffset > 0
        ? "the file looks truncated; re-copy or re-save it"
        : "bad magic: this is not a zip/npz file (a bare .npy? use readNpy)"),
    "",
    tailOffset + tail.length,
  );
}

/** Parses the zip64 end-of-central-directory record at `bytes[0]`. */
export function parseZip64Record(bytes: Uint8Array, offset: number): CdLocation {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 56 || dv.getUint32(0, true) !== Z64_EOCD_SIG) {
    throw new NpzFormatError(
      `Cannot read npz archive: bad zip64 end-of-central-directory record at ${offset}; ` +
        `the file is corrupt or truncated`,
      "",
      offset,
    );
  }
  return {
    kind: "cd",
    count: u64(dv, 32),
    cdSize: u64(dv, 40),
    cdOffset: u64(dv, 48),
  };
}

/** Parses `count` central-directory entries from `cd` (which starts at file offset `base`). */
export function parseCentralDirectory(cd: Uint8Array, base: number, count: number): ZipEntry[] {
  const dv = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
  const out: ZipEntry[] = [];
  const dec = new TextDecoder();
  let p = 0;
  for (let k = 0; k < count; k++) {
    if (p + 46 > cd.length || dv.getUint32(p, true) !== CEN_SIG) {
      throw new NpzFormatError(
        `Cannot read npz archive: central directory entry ${k} of ${count} is missing or has a ` +
          `bad signature; the file is corrupt or truncated`,
        "",
        base + p,
      );
    }
    const flags = dv.getUint16(p + 8, true);
    const method = dv.getUint16(p + 10, true);
    const crc = dv.getUint32(p + 16, true);
    let compressedSize = dv.getUint32(p + 20, true);
    let size = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    let localHeaderOffset = dv.getUint32(p + 42, true);
    if (p + 46 + nameLen + extraLen + commentLen > cd.length) {
      throw new NpzFormatError(
        `Cannot read npz archive: central directory entry ${k} runs past the directory's end`,
        "",
        base + p,
      );
    }
    const name = dec.decode(cd.subarray(p + 46, p + 46 + nameLen));
    // zip64 extra field: 64-bit values for the fields set to 0xffffffff, in this order.
    let e = p + 46 + nameLen;
    const eEnd = e + extraLen;
    while (e + 4 <= eEnd) {
      const id = dv.getUint16(e, true);
      const len = dv.getUint16(e + 2, true);
      if (id === 0x0001) {
        let q = e + 4;
        const qEnd = Math.min(q + len, eEnd);
        if (size === 0xffffffff && q + 8 <= qEnd) size = u64(dv, q), q += 8;
        if (compressedSize === 0xffffffff && q + 8 <= qEnd) compressedSize = u64(dv, q), q += 8;
        if (localHeaderOffset === 0xffffffff && q + 8 <= qEnd) {
          localHeaderOffset = u64(dv, q);
        }
      }
      e += 4 + len;
    }
    out.push({ name, method, flags, crc, compressedSize, size, localHeaderOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

/** Size of the fixed part of a local file header. */
export const LOCAL_HEADER_BYTES = 30;

/** Given the first 30 bytes of an entry's local header, returns where its data starts. */
export function localDataOffset(local: Uint8Array, entry: ZipEntry): number {
  const dv = new DataView(local.buffer, local.byteOffset, local.byteLength);
  if (local.length < 30 || dv.getUint32(0, true) !== LOC_SIG) {
    throw new NpzFormatError(
      `Cannot read member "${entry.name}": no local file header at offset ` +
        `${entry.localHeaderOffset} (bad signature or truncated file)`,
      entry.name,
      entry.localHeaderOffset,
    );
  }
  return entry.localHeaderOffset + 30 + dv.getUint16(26, true) + dv.getUint16(28, true);
}

/** Throws unless the entry is a plain stored or deflated member. */
export function checkEntrySupported(entry: ZipEntry, maxMemberBytes: number): void {
  if (entry.flags & 1) {
    throw new NpzFormatError(
      `Cannot read member "${entry.name}": it is encrypted; encrypted archives are not supported`,
      entry.name,
      entry.localHeaderOffset,
    );
  }
  if (entry.method !== 0 && entry.method !== 8) {
    throw new NpzFormatError(
      `Cannot read member "${entry.name}": unsupported compression method ${entry.method}; ` +
        `allowed: 0 (stored, np.savez) and 8 (deflate, np.savez_compressed)`,
      entry.name,
      entry.localHeaderOffset,
    );
  }
  if (entry.size > maxMemberBytes) {
    throw new NpzFormatError(
      `Cannot read member "${entry.name}": it declares ${entry.size} uncompressed bytes, over ` +
        `the limit maxMemberBytes = ${maxMemberBytes}; raise maxMemberBytes if you trust the file`,
      entry.name,
      entry.localHeaderOffset,
    );
  }
  // Deflate never expands data by more than zlib's deflateBound; a larger stream declares a
  // size it cannot be, e.g. a zip bomb that lies about its uncompressed size.
  const bound = entry.size + Math.floor(entry.size / 2048) + 1024;
  if (entry.method === 8 && entry.compressedSize > bound) {
    throw new NpzFormatError(
      `Cannot read member "${entry.name}": ${entry.compressedSize} compressed bytes cannot ` +
        `inflate to only the declared ${entry.size} bytes (deflate bound ${bound}); the ` +
        `directory lies about the size (corrupt file or zip bomb)`,
      entry.name,
      entry.localHeaderOffset,
    );
  }
  if (entry.method === 0 && entry.compressedSize !== entry.size) {
    throw new NpzFormatError(
      `Cannot read member "${entry.name}": stored member has compressed size ` +
        `${entry.compressedSize} != size ${entry.size}; the archive is corrupt`,
      entry.name,
      entry.localHeaderOffset,
    );
  }
}

/** Throws when a member's CRC-32 differs from the directory's. */
export function checkCrc(entry: ZipEntry, actual: number, offset: number): void {
  if (actual !== entry.crc) {
    throw new NpzFormatError(
      `Cannot read member "${entry.name}": CRC-32 mismatch; expected ` +
        `${entry.crc.toString(16).padStart(8, "0")}, computed ` +
        `${actual.toString(16).padStart(8, "0")}; the file is corrupt`,
      entry.name,
      offset,
    );
  }
}

/** The array key of an `.npy` member (`"a/b.npy"` -> `"a/b"`), or null for other members. */
export function arrayKeyOf(memberName: string): string | null {
  return memberName.endsWith(".npy") ? memberName.slice(0, -4) : null;
}

/** Default `maxMemberBytes`: 4 GiB of uncompressed data per member. */
export const DEFAULT_MAX_MEMBER_BYTES = 2 ** 32;
