/**
 * `writeTorchFile`: a `.pt` file (bytes out) that `torch.load(path, weights_only=True)`
 * opens, laid out record for record as `torch.save` (torch 2.x, whose zip writer is miniz)
 * lays it out: stored records under `<archive>/`, each record's data 64-byte aligned by an
 * `FB` padding extra field, a data descriptor after each non-empty record, records in the
 * order `data.pkl`, `.format_version`, `.storage_alignment`, `byteorder`, `data/0..n-1`,
 * `version`, `.data/serialization_id`. torch can then also read it with `mmap=True` and its
 * computed storage offsets.
 *
 * @module
 */
import { crc32, crc32Update } from "../npz/crc32.ts";
import { pickle } from "./pickle.ts";
import type { PyValue } from "./py_value.ts";

/** Options for {@link writeTorchFile}. */
export interface WriteTorchFileOptions {
  /**
   * The archive's folder. `torch.save(obj, "last.pt")` uses the file's stem (`"last"`),
   * a buffer gets `"archive"` (the default). Letters, digits, `_`, `-` and `.` only.
   */
  readonly archiveName?: string;
}

/** The alignment torch gives record data (its `.storage_alignment` record). */
const ALIGNMENT = 64;

interface Entry {
  readonly name: Uint8Array;
  readonly data: Uint8Array;
  readonly crc: number;
  readonly flags: number;
  readonly offset: number;
}

/**
 * Writes `value` as a torch checkpoint (see the module doc for the layout). Tensors are
 * written contiguous, one storage each, little-endian, on device `cpu`.
 *
 * @throws {TypeError} for a value outside {@link PyValue} or a bad archive name.
 * @throws {RangeError} when the file would reach 4 GiB (zip64 is not written).
 * @example
 * ```ts
 * import { float32Tensor } from "./torch_tensor.ts";
 * const bytes = writeTorchFile(new Map([["w", float32Tensor([2], new Float32Array([1, 2]))]]), {
 *   archiveName: "last",
 * });
 * ```
 */
export function writeTorchFile(value: PyValue, options: WriteTorchFileOptions = {}): Uint8Array {
  const archive = options.archiveName ?? "archive";
  if (!/^[A-Za-z0-9_.-]+$/.test(archive) || archive === "." || archive === "..") {
    throw new TypeError(
      `Cannot write torch checkpoint: archiveName must be letters, digits, "_", "-" or ".", ` +
        `received ${JSON.stringify(archive)}`,
    );
  }
  const { pickle: pkl, storages } = pickle(value);
  const enc = new TextEncoder();
  const records: [string, Uint8Array][] = [
    ["data.pkl", pkl],
    [".format_version", enc.encode("1")],
    [".storage_alignment", enc.encode(String(ALIGNMENT))],
    ["byteorder", enc.encode("little")],
    ...storages.map((s, k) => [`data/${k}`, s] as [string, Uint8Array]),
    ["version", enc.encode("3\n")],
  ];
  // torch logs this id; ours is derived from the content so equal inputs give equal files.
  let combined = 0;
  for (const [, data] of records) combined = crc32Update(combined, data);
  const id = `${crc32(pkl)}${combined}${pkl.length}${storages.length}`.padEnd(40, "0").slice(0, 40);
  records.push([".data/serialization_id", enc.encode(id)]);

  const parts: Uint8Array[] = [];
  const entries: Entry[] = [];
  let cursor = 0;
  for (const [rel, data] of records) {
    const name = enc.encode(`${archive}/${rel}`);
    const start = cursor + 30 + name.length + 4;
    const pad = (ALIGNMENT - (start % ALIGNMENT)) % ALIGNMENT;
    const flags = data.length > 0 ? 0x0808 : 0x0800; // UTF-8 names; data descriptor follows
    const local = new Uint8Array(30 + name.length + 4 + pad);
    const dv = new DataView(local.buffer);
    dv.setUint32(0, 0x04034b50, true);
    dv.setUint16(6, flags, true);
    dv.setUint16(26, name.length, true);
    dv.setUint16(28, 4 + pad, true);
    local.set(name, 30);
    local.set([0x46, 0x42, pad & 0xff, pad >> 8], 30 + name.length); // "FB", padding length
    local.fill(0x5a, 30 + name.length + 4); // "Z"
    const crc = crc32(data);
    entries.push({ name, data, crc, flags, offset: cursor });
    parts.push(local, data);
    cursor += local.length + data.length;
    if (data.length > 0) {
      const dd = new Uint8Array(16);
      const ddv = new DataView(dd.buffer);
      ddv.setUint32(0, 0x08074b50, true);
      ddv.setUint32(4, crc, true);
      ddv.setUint32(8, data.length, true);
      ddv.setUint32(12, data.length, true);
      parts.push(dd);
      cursor += 16;
    }
  }
  const cdOffset = cursor;
  for (const e of entries) {
    const h = new Uint8Array(46 + e.name.length);
    const dv = new DataView(h.buffer);
    dv.setUint32(0, 0x02014b50, true);
    dv.setUint16(8, e.flags, true);
    dv.setUint32(16, e.crc, true);
    dv.setUint32(20, e.data.length, true);
    dv.setUint32(24, e.data.length, true);
    dv.setUint16(28, e.name.length, true);
    dv.setUint32(42, e.offset, true);
    h.set(e.name, 46);
    parts.push(h);
    cursor += h.length;
  }
  const eocd = new Uint8Array(22);
  const dv = new DataView(eocd.buffer);
  dv.setUint32(0, 0x06054b50, true);
  dv.setUint16(8, entries.length, true);
  dv.setUint16(10, entries.length, true);
  dv.setUint32(12, cursor - cdOffset, true);
  dv.setUint32(16, cdOffset, true);
  parts.push(eocd);
  cursor += 22;
  if (cursor >= 0xffffffff || entries.length >= 0xffff) {
    throw new RangeError(
      `Cannot write torch checkpoint: ${cursor} bytes in ${entries.length} records need zip64, ` +
        "which this writer does not produce (4 GiB and 65535 records at most)",
    );
  }
  const out = new Uint8Array(cursor);
  let p = 0;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}
