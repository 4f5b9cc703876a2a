/**
 * `writeNpzFile`: arrays to a `.npz` file on disk, deflated by zlib as a stream (Deno edge).
 *
 * @module
 */
import { crc32 as zlibCrc32 } from "node:zlib";
import { encodeNpyData, encodeNpyHeader, validateNpyArray } from "./_npy_encode.ts";
import { zipEndRecords, zipHeader } from "./_zip_write.ts";
import type { NpyArray } from "./npy_types.ts";

/** Options for {@linkcode writeNpzFile}. */
export interface WriteNpzFileOptions {
  /** Deflate members like `np.savez_compressed` (zlib's default level); default false. */
  compress?: boolean;
  /** Write zip64 extras and end records even when not needed (default false). */
  forceZip64?: boolean;
  /** Bytes handed to the compressor at a time (default 4 MiB). */
  chunkBytes?: number;
}

/**
 * Writes `arrays` as a `.npz` file that numpy's `np.load` reads back exactly, like
 * `writeNpz` but without building the archive in memory: members are written (or deflated
 * through zlib's `CompressionStream("deflate-raw")`) straight to a temporary file that is
 * renamed over `path` at the end, so a crash never leaves half a file.
 *
 * @throws {TypeError} / {RangeError} for an invalid array (see `writeNpy`).
 * @example
 * ```ts ignore
 * import { writeNpzFile } from "./write_npz_file_deno.ts";
 * await writeNpzFile("data/x.npz", { x: { dtype: "int32", shape: [1], data: new Int32Array([7]) } }, { compress: true });
 * ```
 */
export async function writeNpzFile(
  path: string,
  arrays: Record<string, NpyArray>,
  options: WriteNpzFileOptions = {},
): Promise<void> {
  const compress = options.compress ?? false;
  const force = options.forceZip64 === true;
  const chunk = options.chunkBytes ?? 4 << 20;
  for (const [key, array] of Object.entries(arrays)) {
    if (key === "") throw new TypeError("Cannot write npz archive: an array key is empty");
    validateNpyArray(array, key);
  }
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  let ok = false;
  try {
    const writeAll = async (bytes: Uint8Array) => {
      for (let p = 0; p < bytes.length;) p += await file.write(bytes.subarray(p));
    };
    const enc = new TextEncoder();
    const central: Uint8Array[] = [];
    let offset = 0;
    for (const [key, array] of Object.entries(arrays)) {
      const name = enc.encode(`${key}.npy`);
      const header = encodeNpyHeader(array.dtype, array.shape);
      const body = encodeNpyData(array);
      const size = header.length + body.length;
      const crc = zlibCrc32(body, zlibCrc32(header, 0)) >>> 0;
      // Compressed sizes are unknown until the end: local headers of deflated members
      // always carry zip64 extras (as numpy writes them) and are patched afterwards.
      const localZip64 = force || compress || size >= 0xffffffff;
      const local = zipHeader(0x04034b50, name, crc, size, size, compress, localZip64, -1);
      await writeAll(local);
      let csize = size;
      if (!compress) {
        await writeAll(header);
        for (let p = 0; p < body.length; p += chunk) {
          await writeAll(body.subarray(p, Math.min(body.length, p + chunk)));
        }
      } else {
        const cs = new CompressionStream("deflate-raw");
        const writer = cs.writable.getWriter();
        const feed = (async () => {
          await writer.write(header as Uint8Array<ArrayBuffer>);
          for (let p = 0; p < body.length; p += chunk) {
            // copies: the stream may hold on to chunks after write() resolves
            await writer.write(body.slice(p, Math.min(body.length, p + chunk)));
          }
          await writer.close();
        })();
        csize = 0;
        for await (const out of cs.readable) {
          await writeAll(out);
          csize += out.length;
        }
        await feed;
        const patched = zipHeader(0x04034b50, name, crc, csize, size, true, true, -1);
        await file.seek(offset, Deno.SeekMode.Start);
        await writeAll(patched);
        await file.seek(0, Deno.SeekMode.End);
      }
      const big = force || size >= 0xffffffff || csize >= 0xffffffff || offset >= 0xffffffff;
      central.push(zipHeader(0x02014b50, name, crc, csize, size, compress, big, offset));
      offset += local.length + csize;
    }
    const cdSize = central.reduce((a, c) => a + c.length, 0);
    for (const c of central) await writeAll(c);
    for (const r of zipEndRecords(offset, cdSize, central.length, force)) await writeAll(r);
    ok = true;
  } finally {
    file.close();
    if (!ok) await Deno.remove(tmp).catch(() => {});
  }
  await Deno.rename(tmp, path);
}
