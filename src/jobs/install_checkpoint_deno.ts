/**
 * Deno edge: installs a checkpoint folder as `<artifactsDir>/best`, keeping the previous one
 * as `<artifactsDir>/best.previous`.
 *
 * @module
 */

async function removeIfExists(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/**
 * Writes `files` (relative path -> bytes) into a fresh temporary folder beside the target,
 * then swaps it in with renames: `best` -> `best.previous` (the older previous is dropped),
 * temporary -> `best`. A crash while writing leaves `best` untouched; each rename is atomic.
 * Returns the installed and previous paths.
 */
export async function installBestCheckpoint(
  artifactsDir: string,
  files: ReadonlyMap<string, Uint8Array>,
): Promise<{ best: string; previous: string | null }> {
  if (files.size === 0) {
    throw new RangeError("Cannot install checkpoint: it has no files");
  }
  const dir = artifactsDir.replace(/\/+$/, "");
  await Deno.mkdir(dir, { recursive: true });
  const tmp = `${dir}/.best.tmp-${crypto.randomUUID()}`;
  const best = `${dir}/best`;
  const previous = `${dir}/best.previous`;
  try {
    for (const [rel, bytes] of files) {
      if (rel.startsWith("/") || rel.split("/").includes("..")) {
        throw new RangeError(`Cannot install checkpoint: file "${rel}" escapes its folder`);
      }
      const path = `${tmp}/${rel}`;
      await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      await Deno.writeFile(path, bytes);
    }
    let hadPrevious = false;
    try {
      await Deno.stat(best);
      hadPrevious = true;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    if (hadPrevious) {
      await removeIfExists(previous);
      await Deno.rename(best, previous);
    }
    await Deno.rename(tmp, best);
    return { best, previous: hadPrevious ? previous : null };
  } catch (cause) {
    await removeIfExists(tmp);
    throw new Error(
      `Cannot install checkpoint into ${best}: ${(cause as Error).message}; ` +
        "check the folder and its permissions",
      { cause },
    );
  }
}
