/**
 * Deno edge: writes an evaluation bundle's files into a directory (created if needed).
 * Each file is written to a temporary name and renamed, so a reader never sees half a file.
 *
 * @module
 */

/** Writes every `name -> bytes` entry under `dir`; returns the paths written. */
export async function writeEvaluationBundle(
  dir: string,
  files: ReadonlyMap<string, Uint8Array>,
): Promise<string[]> {
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (cause) {
    throw new Error(
      `Cannot write evaluation bundle: cannot create directory ${dir}; check the path and its permissions`,
      { cause },
    );
  }
  const written: string[] = [];
  for (const [name, bytes] of files) {
    const path = `${dir.replace(/\/+$/, "")}/${name}`;
    const tmp = `${path}.tmp-${crypto.randomUUID()}`;
    await Deno.writeFile(tmp, bytes);
    await Deno.rename(tmp, path);
    written.push(path);
  }
  return written;
}
