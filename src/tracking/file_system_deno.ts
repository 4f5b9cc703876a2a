/**
 * The Deno `FileSystemAdapter` for `FileStore` and the spool.
 *
 * @module
 */
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
      await Deno.mkdir(dirname(path), { recursive: true });
      await Deno.writeFile(path, bytes, { append: options?.append ?? false });
    },
    async mkdir(path) {
      await Deno.mkdir(path, { recursive: true });
    },
    async readDir(path) {
      const out: FsEntry[] = [];
      try {
        for await (const entry of Deno.readDir(path)) {
          const size = entry.isFile ? (await Deno.stat(`${path}/${entry.name}`)).size : null;
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
