/**
 * The file-system operations `FileStore` and the spool need, injected so that the core
 * stays free of `Deno.*` (see `file_system_deno.ts` for the Deno adapter).
 *
 * @module
 */

/** One directory entry. */
export interface FsEntry {
  name: string;
  isDirectory: boolean;
  /** Size in bytes for files, null for directories. */
  size: number | null;
}

/** Minimal asynchronous file system with absolute, `/`-separated paths. */
export interface FileSystemAdapter {
  /** The file's bytes, or null when it does not exist. */
  readFile(path: string): Promise<Uint8Array | null>;
  /**
   * Writes (or appends to) a file, creating parent directories. A write that is not an
   * append replaces the file atomically: a concurrent reader sees the old or the new
   * content, never a part (the Deno adapter writes `.tmp-<random>` beside it and renames).
   */
  writeFile(path: string, bytes: Uint8Array, options?: { append?: boolean }): Promise<void>;
  /**
   * Creates a directory and its parents; resolves true when this call created `path`,
   * false when it existed. Atomic: of several concurrent callers exactly one gets true.
   */
  mkdir(path: string): Promise<boolean>;
  /** Entries of a directory, or null when it does not exist. */
  readDir(path: string): Promise<FsEntry[] | null>;
  /** Removes a file or directory tree; no error when missing. */
  remove(path: string): Promise<void>;
  /** Moves a file or directory (creating the target's parent). */
  rename(from: string, to: string): Promise<void>;
}
