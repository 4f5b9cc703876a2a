/**
 * `readTorchFile`: the value of a `.pt` file written by `torch.save` (bytes in), read with
 * the restricted {@link unpickle}: the same rules as `torch.load(path, weights_only=True,
 * map_location="cpu")`.
 *
 * The format (torch >= 1.6): a zip of stored records under one folder `<archive>/`:
 * `data.pkl` (the pickle), `data/<key>` (one storage each, little- or big-endian as the
 * `byteorder` record says), `version`, and `.format_version`, `.storage_alignment`,
 * `.data/serialization_id` in recent versions.
 *
 * @module
 */
import { unzipSync } from "fflate";
import { crc32 } from "../npz/crc32.ts";
import { readZipDirectory } from "./_zip_directory.ts";
import type { PyValue } from "./py_value.ts";
import { TorchFormatError } from "./torch_format_error.ts";
import { DEFAULT_MAX_ELEMENTS, unpickle } from "./unpickle.ts";

/** Options for {@link readTorchFile}. */
export interface ReadTorchFileOptions {
  /** Refuse a file whose tensors hold more elements in total (default 2^28). */
  readonly maxElements?: number;
}

/** The most record bytes a file may declare (4 GiB; torch's format needs zip64 beyond). */
const MAX_RECORD_BYTES = 2 ** 32;

/** The file format versions torch reads (its `version` record). */
const SUPPORTED_VERSIONS = [1, 10] as const;

function startsWith(bytes: Uint8Array, at: number, text: string): boolean {
  for (let i = 0; i < text.length; i++) if (bytes[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

/**
 * Reads a torch checkpoint. Tensors come back dense, on the host, whatever device they were
 * saved from (as `map_location="cpu"` does).
 *
 * @throws {TorchFormatError} for a file that is not a torch zip checkpoint (the legacy
 * pre-1.6 format and TorchScript archives are named as such), a corrupt record (CRC-32), or
 * a pickle {@link unpickle} refuses (e.g. a global such as `os.system`: nothing is run).
 * @example
 * ```ts
 * const ckpt = readTorchFile(await Deno.readFile("last.pt")) as Map<string, unknown>;
 * console.log(ckpt.get("epoch"));
 * ```
 */
export function readTorchFile(bytes: Uint8Array, options: ReadTorchFileOptions = {}): PyValue {
  const fail = (what: string, record = ""): never => {
    throw new TorchFormatError(`Cannot read torch checkpoint: ${what}`, record, -1);
  };
  if (!startsWith(bytes, 0, "PK\x03\x04")) {
    if (bytes[0] === 0x80 && bytes[1] >= 2 && bytes[1] <= 5) {
      fail(
        "it is in the legacy format of torch < 1.6 (or _use_new_zipfile_serialization=False), " +
          "which is not supported; load and re-save it with a current torch.save",
      );
    }
    if (startsWith(bytes, 257, "ustar")) {
      fail("it is a tar archive (torch's legacy tar format), which is not supported");
    }
    const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
    fail(`it is not a zip archive (starts ${head || "empty"}); a torch.save file starts "PK"`);
  }
  const entries = readZipDirectory(bytes);
  if (entries.length === 0) fail("the zip archive is empty");
  const archive = entries[0].name.split("/")[0];
  const prefix = `${archive}/`;
  const byName = new Map(entries.map((e) => [e.name, e]));
  if (byName.has(`${prefix}constants.pkl`)) {
    fail(
      "it is a TorchScript archive (torch.jit.save); save the state dict with torch.save instead",
    );
  }
  if (!byName.has(`${prefix}data.pkl`)) {
    fail(`the archive has no ${prefix}data.pkl record (not a torch.save file?)`);
  }
  let declared = 0;
  for (const e of entries) {
    if (!e.name.startsWith(prefix)) continue; // torch ignores records outside its folder
    if (e.flags & 1) fail(`record ${e.name} is encrypted`, e.name);
    if (e.method !== 0 && e.method !== 8) {
      fail(
        `record ${e.name} uses compression method ${e.method}; torch writes stored records (0)`,
        e.name,
      );
    }
    // Deflate expands 1032:1 at most: a larger declared size is a lie (a zip bomb's).
    if (e.method === 8 && e.size > e.compressedSize * 1032 + 1024) {
      fail(
        `record ${e.name} declares ${e.size} bytes from ${e.compressedSize} deflated bytes, ` +
          "more than deflate can produce",
        e.name,
      );
    }
    declared += e.size;
  }
  if (declared > MAX_RECORD_BYTES) {
    fail(
      `the records declare ${declared} bytes in all, over the ${MAX_RECORD_BYTES} this reader accepts`,
    );
  }
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, { filter: (f) => f.name.startsWith(prefix) });
  } catch (cause) {
    throw new TorchFormatError(
      `Cannot read torch checkpoint: the zip archive is corrupt (${(cause as Error).message})`,
      "",
      -1,
      { cause },
    );
  }
  const record = (name: string): Uint8Array | undefined => {
    const e = byName.get(prefix + name);
    const data = files[prefix + name];
    if (!e || !data) return undefined;
    if (data.length !== e.size) {
      fail(
        `record ${name} holds ${data.length} bytes, the directory says ${e.size} (truncated file?)`,
        name,
      );
    }
    const actual = crc32(data);
    if (actual !== e.crc) {
      fail(
        `record ${name} is corrupt: CRC-32 ${actual.toString(16).padStart(8, "0")}, the ` +
          `directory says ${e.crc.toString(16).padStart(8, "0")}`,
        name,
      );
    }
    return data;
  };
  const text = (name: string) => {
    const r = record(name);
    return r && new TextDecoder().decode(r).trim();
  };

  const version = text(".data/version") ?? text("version");
  if (version === undefined) fail(`the archive has no ${prefix}version record`);
  const v = Number(version);
  if (!Number.isInteger(v) || v < SUPPORTED_VERSIONS[0] || v > SUPPORTED_VERSIONS[1]) {
    fail(
      `file format version ${JSON.stringify(version)} is not supported ` +
        `(${SUPPORTED_VERSIONS[0]} to ${SUPPORTED_VERSIONS[1]} are)`,
      "version",
    );
  }
  const byteorder = text("byteorder") ?? "little";
  if (byteorder !== "little" && byteorder !== "big") {
    fail(`byteorder must be "little" or "big", found ${JSON.stringify(byteorder)}`, "byteorder");
  }
  return unpickle(record("data.pkl")!, {
    storage: (key) => record(`data/${key}`),
    byteorder: byteorder as "little" | "big",
    maxElements: options.maxElements ?? DEFAULT_MAX_ELEMENTS,
  });
}
