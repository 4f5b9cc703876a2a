// The central directory of a zip (names, CRC-32s, sizes), bounds-checked. fflate extracts the
// records but neither reports CRC-32s nor bounds the entry count a zip64 record may claim, so
// the torch reader walks the directory first.
import { TorchFormatError } from "./torch_format_error.ts";

/** One central-directory entry. */
export interface ZipDirectoryEntry {
  readonly name: string;
  readonly method: number;
  readonly flags: number;
  readonly crc: number;
  readonly compressedSize: number;
  readonly size: number;
}

const fail = (what: string, offset: number): never => {
  throw new TorchFormatError(`Cannot read torch checkpoint: ${what}`, "", offset);
};

/** Reads and checks the central directory of the zip `bytes`. */
export function readZipDirectory(bytes: Uint8Array): ZipDirectoryEntry[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let p = bytes.length - 22; p >= 0 && p >= bytes.length - 22 - 0xffff; p--) {
    if (
      dv.getUint32(p, true) === 0x06054b50 && p + 22 + dv.getUint16(p + 20, true) === bytes.length
    ) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) fail("no zip end-of-central-directory record (truncated file?)", bytes.length);
  let count = dv.getUint16(eocd + 10, true);
  let cdSize = dv.getUint32(eocd + 12, true);
  let cdOffset = dv.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || dv.getUint32(loc, true) !== 0x07064b50) fail("a zip64 locator is missing", eocd);
    const rec = Number(dv.getBigUint64(loc + 8, true));
    if (rec + 56 > loc || dv.getUint32(rec, true) !== 0x06064b50) {
      fail("the zip64 end-of-central-directory record is missing or corrupt", loc);
    }
    count = Number(dv.getBigUint64(rec + 32, true));
    cdSize = Number(dv.getBigUint64(rec + 40, true));
    cdOffset = Number(dv.getBigUint64(rec + 48, true));
  }
  if (cdOffset + cdSize > bytes.length || count * 46 > cdSize) {
    fail(
      `the central directory (${count} entries, ${cdSize} bytes at ${cdOffset}) does not fit the ${bytes.length}-byte file`,
      eocd,
    );
  }
  const dec = new TextDecoder();
  const out: ZipDirectoryEntry[] = [];
  let p = cdOffset;
  const end = cdOffset + cdSize;
  for (let k = 0; k < count; k++) {
    if (p + 46 > end || dv.getUint32(p, true) !== 0x02014b50) {
      fail(`central directory entry ${k} of ${count} is missing or corrupt`, p);
    }
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const next = p + 46 + nameLen + extraLen + dv.getUint16(p + 32, true);
    if (next > end) fail(`central directory entry ${k} runs past the directory's end`, p);
    let compressedSize = dv.getUint32(p + 20, true);
    let size = dv.getUint32(p + 24, true);
    // zip64 extra field: 64-bit sizes for the fields set to 0xffffffff, in this order.
    for (let e = p + 46 + nameLen; e + 4 <= p + 46 + nameLen + extraLen;) {
      const len = dv.getUint16(e + 2, true);
      if (dv.getUint16(e, true) === 0x0001) {
        let q = e + 4;
        if (size === 0xffffffff && q + 8 <= e + 4 + len) {
          size = Number(dv.getBigUint64(q, true)), q += 8;
        }
        if (compressedSize === 0xffffffff && q + 8 <= e + 4 + len) {
          compressedSize = Number(dv.getBigUint64(q, true));
        }
      }
      e += 4 + len;
    }
    out.push({
      name: dec.decode(bytes.subarray(p + 46, p + 46 + nameLen)),
      flags: dv.getUint16(p + 8, true),
      method: dv.getUint16(p + 10, true),
      crc: dv.getUint32(p + 16, true),
      compressedSize,
      size,
    });
    p = next;
  }
  return out;
}
