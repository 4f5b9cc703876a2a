/**
 * `readNpzFile`: every array of a `.npz` file, read member by member (Deno edge).
 *
 * @module
 */
import { openNpz, type OpenNpzOptions } from "./open_npz_deno.ts";
import type { NpyArray } from "./npy_types.ts";

/**
 * Reads every array of a `.npz` file through `openNpz`: members are read (stored) or
 * stream-inflated with zlib (deflated) one at a time, CRCs checked with `node:zlib`, so
 * peak memory is about the arrays themselves, not the file plus the arrays.
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
  options: OpenNpzOptions = {},
): Promise<Record<string, NpyArray>> {
  using npz = await openNpz(path, options);
  const out: Record<string, NpyArray> = {};
  for (const m of npz.members) out[m.name] = await npz.read(m.name);
  return out;
}
