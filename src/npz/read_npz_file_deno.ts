/**
 * `readNpzFile`: `readNpz` on a path, with `node:zlib`'s fast CRC-32 (Deno edge).
 *
 * @module
 */
import { readNpz, type ReadNpzOptions } from "./read_npz.ts";
import { zlibCrc32Fn } from "./open_npz_deno.ts";
import type { NpyArray } from "./npy_types.ts";

/**
 * Reads a whole `.npz` file into memory and decodes every array (see `readNpz`). Memory:
 * the file plus one copy of the arrays; use `openNpz` to read one array at a time.
 *
 * @throws {NpzFormatError} malformed archive; `Deno.errors.NotFound` for a missing file.
 * @example
 * ```ts ignore
 * import { readNpzFile } from "./read_npz_file_deno.ts";
 * const { sequences, labels } = await readNpzFile("data/train_sequences.npz");
 * ```
 */
export async function readNpzFile(
  path: string,
  options: ReadNpzOptions = {},
): Promise<Record<string, NpyArray>> {
  return readNpz(await Deno.readFile(path), { crc32: zlibCrc32Fn, ...options });
}
