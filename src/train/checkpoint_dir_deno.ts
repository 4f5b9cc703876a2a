/**
 * Checkpoint folders on disk (Deno edge of `src/train/`): read all files, write atomically.
 *
 * @module
 */

/** Reads every file of a checkpoint folder (e.g. `<output-dir>/last`) into memory. */
export async function readCheckpointDir(dir: string): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = {};
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile) files[entry.name] = await Deno.readFile(`${dir}/${entry.name}`);
    }
  } catch (cause) {
    if (cause instanceof Deno.errors.NotFound) {
      throw new Error(
        `Cannot read checkpoint ${dir}: folder not found; pass a checkpoint folder such as ` +
          "<output-dir>/last or <output-dir>/best",
        { cause },
      );
    }
    throw cause;
  }
  if (!files["state.json"]) {
    throw new Error(
      `Cannot read checkpoint ${dir}: no state.json in it (files: ${
        Object.keys(files).join(", ") || "none"
      }); pass a checkpoint folder such as <output-dir>/last`,
    );
  }
  return files;
}

/** Writes all of `bytes` to `path` and syncs it to disk before returning. */
async function writeFileSynced(path: string, bytes: Uint8Array): Promise<void> {
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    let off = 0;
    while (off < bytes.length) off += await f.write(bytes.subarray(off));
    await f.sync();
  } finally {
    f.close();
  }
}

/**
 * Writes `bytes` to `path` through a synced temporary file (`<path>.tmp-<pid>`) and a
 * rename: a crash leaves the old file or the new one, never half of one.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}`;
  try {
    await writeFileSynced(tmp, bytes);
    await Deno.rename(tmp, path);
  } catch (cause) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`Cannot write ${path}: ${(cause as Error).message}`, { cause });
  }
}

/**
 * Writes `files` as folder `dir` atomically: into `<dir>.tmp-<pid>`, then renames the old
 * folder aside, renames the new one into place and deletes the old. A crash leaves either
 * the old or the new complete folder (or, between the two renames, `<dir>.old-<pid>`).
 */
export async function writeCheckpointDir(
  dir: string,
  files: Readonly<Record<string, Uint8Array>>,
): Promise<void> {
  const tmp = `${dir}.tmp-${Deno.pid}`;
  const old = `${dir}.old-${Deno.pid}`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  await Deno.mkdir(tmp, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) {
    if (name.includes("/") || name.startsWith(".")) {
      throw new RangeError(
        `Cannot write checkpoint ${dir}: file name "${name}" must be a plain name`,
      );
    }
    await writeFileSynced(`${tmp}/${name}`, bytes);
  }
  let hadOld = false;
  try {
    await Deno.rename(dir, old);
    hadOld = true;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await Deno.rename(tmp, dir);
  if (hadOld) await Deno.remove(old, { recursive: true });
}
