/**
 * The Deno `FileSystemAdapter` for `FileStore` and the spool.
 *
 * @module
 */
import { TEMP_ENTRY_PREFIX } from "./_file_store_format.ts";
import type { FileSystemAdapter, FsEntry } from "./file_system.ts";
import { resolvePath } from "./tracking_uri.ts";

function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

/** A `FileSystemAdapter` over `Deno.*` file APIs. */
export function denoFileSystem(): FileSystemAdapter {
  return {
    async readFile(path) {
      try {
        return await Deno.readFile(path);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return null;
        throw error;
      }
    },
    async writeFile(path, bytes, options) {
      const dir = dirname(path);
      await Deno.mkdir(dir, { recursive: true });
      if (options?.append) {
        await Deno.writeFile(path, bytes, { append: true });
        return;
      }
      // Replace atomically: readers (other processes too) never see a half-written file.
      const tmp = `${dir}/${TEMP_ENTRY_PREFIX}${crypto.randomUUID()}`;
      try {
        await Deno.writeFile(tmp, bytes);
        await Deno.rename(tmp, path);
      } catch (error) {
        await Deno.remove(tmp).catch(() => {});
        throw error;
      }
    },
    async mkdir(path) {
      await Deno.mkdir(dirname(path), { recursive: true });
      try {
        await Deno.mkdir(path);
        return true;
      } catch (error) {
        if (error instanceof Deno.errors.AlreadyExists) return false;
        throw error;
      }
    },
    async readDir(path) {
      const out: FsEntry[] = [];
      try {
        for await (const entry of Deno.readDir(path)) {
          if (entry.name.startsWith(TEMP_ENTRY_PREFIX)) continue; // an atomic write in flight
          let size: number | null = null;
          if (entry.isFile) {
            try {
              size = (await Deno.stat(`${path}/${entry.name}`)).size;
            } catch (error) {
              if (error instanceof Deno.errors.NotFound) continue; // removed meanwhile
              throw error;
            }
          }
          out.push({ name: entry.name, isDirectory: entry.isDirectory, size });
        }
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return null;
        throw error;
      }
      return out;
    },
    async remove(path) {
      try {
        await Deno.remove(path, { recursive: true });
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    },
    async rename(from, to) {
      await Deno.mkdir(dirname(to), { recursive: true });
      await Deno.rename(from, to);
    },
  };
}

/** Makes a path absolute against the current directory, with `/` separators. */
export function absolutePath(path: string): string {
  return resolvePath(path, Deno.cwd());
}
