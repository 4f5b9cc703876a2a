// Deno edge of openNpz: positioned reads of the archive, and just enough of a member to
// parse its .npy header (stored, or inflated from the deflate stream).
import { Inflate } from "fflate";
import type { ZipEntry } from "./_zip.ts";
import { NpzFormatError } from "./npz_format_error.ts";

/** Positioned reads, serialised (seek + read share the handle's position). */
export class FileReader {
  #queue: Promise<unknown> = Promise.resolve();
  constructor(readonly file: Deno.FsFile, readonly path: string, readonly size: number) {}

  /** Reads exactly `length` bytes at `offset` into `into` (or a new buffer). */
  readAt(offset: number, length: number, member: string, into?: Uint8Array): Promise<Uint8Array> {
    const run = async () => {
      if (offset + length > this.size) {
        throw new NpzFormatError(
          `Cannot read ${member ? `member "${member}"` : "npz archive"} in ${this.path}: ` +
            `needs bytes ${offset}..${offset + length} but the file has ${this.size}; ` +
            `the file is truncated`,
          member,
          this.size,
        );
      }
      const buf = into ?? new Uint8Array(length);
      await this.file.seek(offset, Deno.SeekMode.Start);
      let got = 0;
      while (got < length) {
        const n = await this.file.read(buf.subarray(got, length));
        if (n === null) {
          throw new NpzFormatError(
            `Cannot read ${member ? `member "${member}"` : "npz archive"} in ${this.path}: ` +
              `unexpected end of file at ${offset + got}`,
            member,
            offset + got,
          );
        }
        got += n;
      }
      return buf.subarray(0, length);
    };
    const p = this.#queue.then(run, run);
    this.#queue = p.catch(() => {});
    return p;
  }
}

/** The stored (uncompressed) member's first bytes, enough for its `.npy` header. */
export async function storedHead(io: FileReader, e: ZipEntry, start: number): Promise<Uint8Array> {
  const first = await io.readAt(start, Math.min(e.size, 4096), e.name);
  if (first.length < 12) return first;
  const dv = new DataView(first.buffer, first.byteOffset, first.byteLength);
  const need = first[6] === 1 ? 10 + dv.getUint16(8, true) : 12 + dv.getUint32(8, true);
  if (need <= first.length || need > e.size) return first;
  return await io.readAt(start, need, e.name);
}

/** Inflates just enough of a deflated member to parse its `.npy` header. */
export async function inflatedHead(
  io: FileReader,
  e: ZipEntry,
  start: number,
  chunk: number,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let have = 0;
  let need = 12;
  const inflate = new Inflate((data) => {
    parts.push(data.slice());
    have += data.length;
  });
  const small = Math.min(chunk, 1 << 16);
  let pos = 0;
  while (have < need && pos < e.compressedSize) {
    const n = Math.min(small, e.compressedSize - pos);
    const comp = await io.readAt(start + pos, n, e.name);
    pos += n;
    try {
      inflate.push(comp, pos === e.compressedSize);
    } catch (cause) {
      throw new NpzFormatError(
        `Cannot read member "${e.name}": corrupt deflate stream (${(cause as Error).message})`,
        e.name,
        start + pos,
        { cause },
      );
    }
    if (have >= 12 && need === 12) {
      const head = concat(parts, have);
      const dv = new DataView(head.buffer);
      need = head[6] === 1 ? 10 + dv.getUint16(8, true) : 12 + dv.getUint32(8, true);
    }
  }
  return concat(parts, have);
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let p = 0;
  for (const x of parts) {
    out.set(x, p);
    p += x.length;
  }
  return out;
}
