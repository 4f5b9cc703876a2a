/**
 * Browser downloads: bytes to a file the user saves, and the run folder as one zip.
 *
 * @module
 */
import { zipSync } from "fflate";

/** Offers `bytes` as a download named `name`. */
export function downloadBytes(name: string, bytes: Uint8Array | string, type: string): void {
  const blob = new Blob([bytes as BlobPart], { type });
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * Zips a folder given as relative path -> bytes (deflated, except already-compressed
 * `.npz`/`.zip` members which are stored).
 */
export function zipFolder(files: Readonly<Record<string, Uint8Array>>): Uint8Array {
  const entries: Record<string, [Uint8Array, { level: 0 | 6 }]> = {};
  for (const [path, bytes] of Object.entries(files)) {
    entries[path] = [bytes, { level: /\.(npz|zip)$/.test(path) ? 0 : 6 }];
  }
  return zipSync(entries);
}
