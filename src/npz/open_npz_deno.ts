/**
 * `openNpz`: lazy access to a `.npz` file on disk (Deno edge). Lists members without
 * reading their data, reads one member at a time (deflated members are inflated as a
 * stream, so peak memory is about one copy of that array), and reads row ranges of
 * stored members straight from disk so batches can stream.
 *
 * @module
 */
import { Inflate } from "fflate";
import { crc32 as zlibCrc32 } from "node:zlib";
import { decodeNpyData } from "./_npy_data.ts";
import { checkDataSize, type NpyHeader, parseNpyHeader } from "./_npy_header.ts";
import {
  arrayKeyOf,
  checkCrc,
  checkEntrySupported,
  DEFAULT_MAX_MEMBER_BYTES,
  LOCAL_HEADER_BYTES,
  localDataOffset,
  locateCentralDirectory,
  parseCentralDirectory,
  parseZip64Record,
  ZIP_TAIL_BYTES,
  type ZipEntry,
} from "./_zip.ts";
import type { NpyArray, NpyDtype } from "./npy_types.ts";
import type { Crc32Fn } from "./read_npz.ts";
import { NpzFormatError } from "./npz_format_error.ts";
import { FileReader, inflatedHead, storedHead } from "./_npz_file_reader_deno.ts";

/** What {@linkcode openNpz} knows about one array without reading its data. */
export interface NpzMemberInfo {
  /** Array key (member name without `.npy`). */
  name: string;
  /** Zip member name. */
  member: string;
  /** Element type. */
  dtype: NpyDtype;
  /** Dimensions. */
  shape: number[];
  /** Stored in Fortran order (converted to C order on read). */
  fortranOrder: boolean;
  /** `.npy` format version, e.g. `"1.0"`. */
  version: string;
  /** Deflated (np.savez_compressed) rather than stored (np.savez). */
  compressed: boolean;
  /** Bytes of the member in the file. */
  compressedBytes: number;
  /** Bytes of the `.npy` member (header + data). */
  bytes: number;
  /** Whether {@linkcode NpzFile.readRows} works: stored, C order, at least 1-d. */
  rowAccess: boolean;
}

/** Options for {@linkcode openNpz}. */
export interface OpenNpzOptions {
  /** Refuse to read members whose uncompressed size is larger. Default 4 GiB. */
  maxMemberBytes?: number;
  /** Verify CRC-32 on whole-member reads (default true; row reads cannot). */
  verifyCrc?: boolean;
  /** Bytes per disk read while streaming (default 4 MiB). */
  chunkBytes?: number;
  /** CRC-32 implementation (default: `node:zlib`'s `crc32`). */
  crc32?: Crc32Fn;
  /**
   * Inflater for deflated members, both streaming: `"native"` (zlib through
   * `DecompressionStream("deflate-raw")`, the default) or `"fflate"` (pure JavaScript).
   */
  inflate?: "native" | "fflate";
}

/** `node:zlib`'s CRC-32, several times faster than the portable one. */
export const zlibCrc32Fn: Crc32Fn = (bytes: Uint8Array, value: number): number =>
  zlibCrc32(bytes, value) >>> 0;

/** An open `.npz` file; close it (or use `using`) when done. */
export interface NpzFile extends Disposable {
  /** The path given to `openNpz`. */
  readonly path: string;
  /** Every `.npy` member, in archive order. */
  readonly members: readonly NpzMemberInfo[];
  /** The member info of array `name`. @throws {RangeError} unknown name. */
  info(name: string): NpzMemberInfo;
  /** Reads a whole array (stored: one read; deflated: streamed inflate). */
  read(name: string): Promise<NpyArray>;
  /**
   * Reads rows `[start, end)` of the first axis of a STORED C-order array straight from
   * disk. Deflated members cannot be sliced without inflating everything before the rows:
   * use `read(name)` or write the file with `np.savez` / `writeNpz(..., { compress: false })`.
   */
  readRows(name: string, start: number, end: number): Promise<NpyArray>;
  /** Closes the file handle. */
  close(): void;
}

interface Member {
  info: NpzMemberInfo;
  entry: ZipEntry;
  header: NpyHeader;
  /** Absolute file offset of the member's first (compressed) byte. */
  start: number;
}

/**
 * Opens a `.npz` file for lazy access: reads only the zip directory and each member's
 * `.npy` header. zip64 archives (files over 4 GB) are supported.
 *
 * @throws {NpzFormatError} malformed archive or member header (with member and offset).
 * @example
 * ```ts ignore
 * import { openNpz } from "./open_npz_deno.ts";
 * using npz = await openNpz("data/train_sequences.npz");
 * for (const m of npz.members) console.log(m.name, m.dtype, m.shape);
 * const labels = await npz.read("labels");
 * ```
 */
export async function openNpz(path: string, options: OpenNpzOptions = {}): Promise<NpzFile> {
  const file = await Deno.open(path, { read: true });
  try {
    const size = (await file.stat()).size;
    const io = new FileReader(file, path, size);
    const tailOffset = Math.max(0, size - ZIP_TAIL_BYTES);
    let loc = locateCentralDirectory(
      await io.readAt(tailOffset, size - tailOffset, ""),
      tailOffset,
    );
    if (loc.kind === "zip64") {
      loc = parseZip64Record(
        await io.readAt(loc.recordOffset, 56, ""),
        loc.recordOffset,
      );
    }
    if (loc.kind !== "cd") throw new Error("unreachable");
    const cd = await io.readAt(loc.cdOffset, loc.cdSize, "");
    const members: Member[] = [];
    const chunk = options.chunkBytes ?? 4 << 20;
    for (const entry of parseCentralDirectory(cd, loc.cdOffset, loc.count)) {
      const key = arrayKeyOf(entry.name);
      if (key === null) continue;
      checkEntrySupported(entry, Number.MAX_SAFE_INTEGER);
      const local = await io.readAt(entry.localHeaderOffset, LOCAL_HEADER_BYTES, entry.name);
      const start = localDataOffset(local, entry);
      const head = entry.method === 0
        ? await storedHead(io, entry, start)
        : await inflatedHead(io, entry, start, chunk);
      const header = parseNpyHeader(head, entry.name, start);
      checkDataSize(header, entry.size - header.dataOffset, entry.name, start);
      members.push({
        entry,
        header,
        start,
        info: {
          name: key,
          member: entry.name,
          dtype: header.dtype,
          shape: header.shape.slice(),
          fortranOrder: header.fortranOrder,
          version: header.version,
          compressed: entry.method === 8,
          compressedBytes: entry.compressedSize,
          bytes: entry.size,
          rowAccess: entry.method === 0 && !header.fortranOrder && header.shape.length > 0,
        },
      });
    }
    return new OpenNpz(file, path, io, members, {
      maxMemberBytes: options.maxMemberBytes ?? DEFAULT_MAX_MEMBER_BYTES,
      verifyCrc: options.verifyCrc ?? true,
      chunkBytes: chunk,
      crc32: options.crc32 ?? zlibCrc32Fn,
      inflate: options.inflate ?? "native",
    });
  } catch (e) {
    file.close();
    throw e;
  }
}

class OpenNpz implements NpzFile {
  readonly members: readonly NpzMemberInfo[];
  #byName: Map<string, Member>;
  #closed = false;

  constructor(
    private readonly file: Deno.FsFile,
    readonly path: string,
    private readonly io: FileReader,
    list: Member[],
    private readonly opts: Required<OpenNpzOptions>,
  ) {
    this.members = Object.freeze(list.map((m) => m.info));
    this.#byName = new Map(list.map((m) => [m.info.name, m]));
  }

  #get(name: string): Member {
    if (this.#closed) {
      throw new TypeError(`Cannot read "${name}" from ${this.path}: the file is closed`);
    }
    const m = this.#byName.get(name);
    if (!m) {
      throw new RangeError(
        `Cannot read "${name}" from ${this.path}: no such array; arrays: ` +
          `${[...this.#byName.keys()].join(", ") || "(none)"}`,
      );
    }
    return m;
  }

  info(name: string): NpzMemberInfo {
    return this.#get(name).info;
  }

  async read(name: string): Promise<NpyArray> {
    const m = this.#get(name);
    const e = m.entry;
    checkEntrySupported(e, this.opts.maxMemberBytes);
    if (e.method === 0) {
      const h = m.header;
      // Read the header and the data separately so the data lands at offset 0 (aligned).
      const head = await this.io.readAt(m.start, h.dataOffset, e.name);
      const body = await this.io.readAt(m.start + h.dataOffset, e.size - h.dataOffset, e.name);
      if (this.opts.verifyCrc) {
        checkCrc(e, this.opts.crc32(body, this.opts.crc32(head, 0)) >>> 0, m.start);
      }
      return decodeNpyData(h, body, true);
    }
    const out = new Uint8Array(e.size);
    let have = 0;
    let crc = 0;
    let overflow = false;
    const sink = (data: Uint8Array) => {
      if (have + data.length > out.length) {
        overflow = true;
        return;
      }
      out.set(data, have);
      if (this.opts.verifyCrc) crc = this.opts.crc32(data, crc);
      have += data.length;
    };
    const corrupt = (cause: unknown, at: number) =>
      new NpzFormatError(
        `Cannot read member "${e.name}": corrupt deflate stream (${(cause as Error).message})`,
        e.name,
        at,
        { cause },
      );
    const chunk = Math.min(this.opts.chunkBytes, Math.max(1, e.compressedSize));
    if (this.opts.inflate === "native") {
      // zlib via the web-standard DecompressionStream: several times faster than fflate
      const ds = new DecompressionStream("deflate-raw");
      const writer = ds.writable.getWriter();
      const reader = ds.readable.getReader();
      let pos = 0;
      const pump = (async () => {
        for (; pos < e.compressedSize && !overflow;) {
          const n = Math.min(chunk, e.compressedSize - pos);
          const part = await this.io.readAt(m.start + pos, n, e.name);
          pos += n;
          await writer.write(part as Uint8Array<ArrayBuffer>);
        }
        await writer.close();
      })();
      pump.catch(() => {}); // awaited below; avoid an unhandled rejection in between
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          sink(value);
          if (overflow) {
            await reader.cancel();
            break;
          }
        }
      } catch (cause) {
        if (cause instanceof NpzFormatError) throw cause;
        throw corrupt(cause, m.start + pos);
      }
      if (!overflow) {
        try {
          await pump;
        } catch (cause) {
          if (cause instanceof NpzFormatError) throw cause;
          throw corrupt(cause, m.start + pos);
        }
      }
    } else {
      const inflate = new Inflate(sink);
      const comp = new Uint8Array(chunk);
      for (let pos = 0; pos < e.compressedSize && !overflow;) {
        const n = Math.min(comp.length, e.compressedSize - pos);
        const part = await this.io.readAt(m.start + pos, n, e.name, comp);
        pos += n;
        try {
          inflate.push(part, pos === e.compressedSize);
        } catch (cause) {
          throw corrupt(cause, m.start + pos);
        }
      }
    }
    if (overflow || have !== e.size) {
      throw new NpzFormatError(
        `Cannot read member "${e.name}": inflated to ${overflow ? "more than " : ""}` +
          `${have} bytes, the directory declares ${e.size}; the file is corrupt`,
        e.name,
        m.start,
      );
    }
    if (this.opts.verifyCrc) checkCrc(e, crc >>> 0, m.start);
    return decodeNpyData(m.header, out.subarray(m.header.dataOffset), true);
  }

  async readRows(name: string, start: number, end: number): Promise<NpyArray> {
    const m = this.#get(name);
    const h = m.header;
    if (!m.info.rowAccess) {
      const why = m.info.compressed
        ? "it is deflated (np.savez_compressed), so rows need a full decompress; use " +
          "read(name), or store the file uncompressed (np.savez / writeNpz compress: false)"
        : h.shape.length === 0
        ? "it is 0-d (no rows)"
        : "it is in Fortran order; use read(name)";
      throw new TypeError(`Cannot read rows of "${name}" from ${this.path}: ${why}`);
    }
    const rows = h.shape[0];
    if (
      !Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start ||
      end > rows
    ) {
      throw new RangeError(
        `Cannot read rows of "${name}" from ${this.path}: range [${start}, ${end}) is not ` +
          `within [0, ${rows}] with start <= end`,
      );
    }
    const rowCount = h.count / (rows || 1);
    const rowBytes = rowCount * h.itemSize;
    const count = (end - start) * rowCount;
    const part = { ...h, shape: [end - start, ...h.shape.slice(1)], count };
    part.dataBytes = count * h.itemSize;
    const body = await this.io.readAt(
      m.start + h.dataOffset + start * rowBytes,
      part.dataBytes,
      m.entry.name,
    );
    return decodeNpyData(part, body, true);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.file.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
