/**
 * The safetensors format (bytes in, bytes out) and the PyTorch state_dict export/import of
 * the classifier.
 *
 * Layout: an 8-byte little-endian header length N, N bytes of JSON header (padded with
 * spaces to a multiple of 8, as the reference implementation does), then the raw
 * little-endian tensor data. The header maps each name to `{dtype, shape, data_offsets}`
 * (offsets relative to the data section) and may hold a `__metadata__` string map.
 *
 * @module
 */
import { TorchTensor } from "../torch/mod.ts";
import type { LstmClassifier } from "./classifier.ts";
import { loadTorchStateDict, torchStateDict } from "./torch_state_dict.ts";

/** The safetensors dtypes this module reads and writes. */
export type SafetensorsDtype =
  | "F64"
  | "F32"
  | "I64"
  | "I32"
  | "I16"
  | "I8"
  | "U64"
  | "U32"
  | "U16"
  | "U8"
  | "BOOL";

/** Typed array for each dtype (BOOL is one byte per element, 0 or 1). */
export type SafetensorsData =
  | Float64Array
  | Float32Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | BigUint64Array
  | Uint32Array
  | Uint16Array
  | Uint8Array;

/** One tensor of a safetensors file. */
export interface SafetensorsTensor {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly data: SafetensorsData;
}

/** A decoded safetensors file. */
export interface SafetensorsFile {
  /** Tensors in file order (ascending data offset). */
  readonly tensors: Record<string, SafetensorsTensor>;
  /** The `__metadata__` map, `{}` when absent. */
  readonly metadata: Record<string, string>;
}

// deno-lint-ignore no-explicit-any
const DTYPES: Record<SafetensorsDtype, { size: number; ctor: any }> = {
  F64: { size: 8, ctor: Float64Array },
  F32: { size: 4, ctor: Float32Array },
  I64: { size: 8, ctor: BigInt64Array },
  I32: { size: 4, ctor: Int32Array },
  I16: { size: 2, ctor: Int16Array },
  I8: { size: 1, ctor: Int8Array },
  U64: { size: 8, ctor: BigUint64Array },
  U32: { size: 4, ctor: Uint32Array },
  U16: { size: 2, ctor: Uint16Array },
  U8: { size: 1, ctor: Uint8Array },
  BOOL: { size: 1, ctor: Uint8Array },
};
const DTYPE_NAMES = Object.keys(DTYPES).join(", ");

/** Largest header the decoder accepts (the reference implementation's limit: 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

function assertLittleEndian(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new Error(
      "Cannot handle safetensors: this platform is big-endian; the format is little-endian",
    );
  }
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Encodes tensors (in the given key order) and optional string metadata as safetensors
 * bytes.
 *
 * @example
 * ```ts
 * const bytes = encodeSafetensors({ w: { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) } });
 * ```
 */
export function encodeSafetensors(
  tensors: Record<string, SafetensorsTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  assertLittleEndian();
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") {
        throw new TypeError(
          `Cannot encode safetensors metadata "${k}": values must be strings, received ${typeof v}`,
        );
      }
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  const parts: Uint8Array[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    if (name === "__metadata__") {
      throw new RangeError(
        'Cannot encode safetensors: "__metadata__" is reserved, not a tensor name',
      );
    }
    const spec = DTYPES[t.dtype];
    if (!spec) {
      throw new RangeError(
        `Cannot encode safetensors tensor "${name}": dtype ${
          JSON.stringify(t.dtype)
        } is not one of ${DTYPE_NAMES}`,
      );
    }
    if (!(t.data instanceof spec.ctor)) {
      throw new TypeError(
        `Cannot encode safetensors tensor "${name}": dtype ${t.dtype} needs a ${spec.ctor.name}, received ${t.data?.constructor?.name}`,
      );
    }
    if (t.shape.some((d) => !Number.isInteger(d) || d < 0) || numel(t.shape) !== t.data.length) {
      throw new RangeError(
        `Cannot encode safetensors tensor "${name}": shape [${t.shape}] holds ${
          numel(t.shape)
        } elements, data has ${t.data.length}`,
      );
    }
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    header[name] = {
      dtype: t.dtype,
      shape: [...t.shape],
      data_offsets: [offset, offset + bytes.length],
    };
    parts.push(bytes);
    offset += bytes.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Decodes safetensors bytes. Throws `SyntaxError` for a malformed header and `RangeError`
 * for offsets or shapes that do not fit the data.
 */
export function decodeSafetensors(bytes: Uint8Array): SafetensorsFile {
  assertLittleEndian();
  if (bytes.length < 8) {
    throw new RangeError(
      `Cannot decode safetensors: expected at least 8 bytes for the header length, received ${bytes.length}`,
    );
  }
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(Math.min(MAX_HEADER_BYTES, bytes.length - 8))) {
    throw new RangeError(
      `Cannot decode safetensors: header length ${n} exceeds the ${
        bytes.length - 8
      } bytes after it ` +
        "(truncated file, or not a safetensors file)",
    );
  }
  const headerLen = Number(n);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(
      bytes.subarray(8, 8 + headerLen),
    ));
  } catch (cause) {
    throw new SyntaxError(
      `Cannot decode safetensors: the ${headerLen}-byte header is not valid JSON`,
      {
        cause,
      },
    );
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    throw new SyntaxError("Cannot decode safetensors: the header must be a JSON object");
  }
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const raw = header.__metadata__;
  if (raw !== undefined) {
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      throw new SyntaxError("Cannot decode safetensors: __metadata__ must be an object of strings");
    }
    for (const [k, v] of Object.entries(raw)) {
      if (typeof v !== "string") {
        throw new SyntaxError(
          `Cannot decode safetensors: __metadata__["${k}"] must be a string, received ${typeof v}`,
        );
      }
      metadata[k] = v;
    }
  }
  const entries: [string, SafetensorsTensor, number][] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const i = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const spec = DTYPES[i?.dtype as SafetensorsDtype];
    if (!spec) {
      throw new SyntaxError(
        `Cannot decode safetensors tensor "${name}": dtype ${
          JSON.stringify(i?.dtype)
        } is not one of ${DTYPE_NAMES}`,
      );
    }
    const shape = i.shape;
    const offs = i.data_offsets;
    if (
      !Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0) ||
      !Array.isArray(offs) || offs.length !== 2 || !offs.every(Number.isInteger)
    ) {
      throw new SyntaxError(
        `Cannot decode safetensors tensor "${name}": expected shape: int[] and data_offsets: [begin, end], received ${
          JSON.stringify(info)
        }`,
      );
    }
    const [begin, end] = offs as [number, number];
    const want = numel(shape) * spec.size;
    if (begin < 0 || end < begin || end > dataLen || end - begin !== want) {
      throw new RangeError(
        `Cannot decode safetensors tensor "${name}": data_offsets [${begin}, ${end}] must span ${want} bytes ` +
          `(${i.dtype} [${shape}]) inside the ${dataLen}-byte data section`,
      );
    }
    // Copy out: the data may sit at an offset the typed array's alignment forbids.
    const copy = bytes.slice(dataStart + begin, dataStart + end);
    const data = new spec.ctor(copy.buffer, 0, numel(shape)) as SafetensorsData;
    entries.push([name, { dtype: i.dtype as SafetensorsDtype, shape, data }, begin]);
  }
  entries.sort((a, b) => a[2] - b[2]);
  const tensors: Record<string, SafetensorsTensor> = {};
  for (const [name, t] of entries) tensors[name] = t;
  return { tensors, metadata };
}

/**
 * The pipeline's state dict (see `torch_state_dict.ts`: `lstm.*`, `classifier.0/3/6.*`) as
 * safetensors bytes: LSTM `weight_ih`/`weight_hh` [4H, in], `bias_ih` = our bias and
 * `bias_hh` = 0, Linear `weight` [out, in]. `__metadata__` holds `format: "pt"` and the
 * model config as JSON (`model_config`). The pipeline's `LSTMClassifier` loads it with
 * `load_state_dict(safetensors.torch.load_file(path))`.
 */
export async function exportTorchStateDict(model: LstmClassifier): Promise<Uint8Array> {
  const tensors: Record<string, SafetensorsTensor> = {};
  for (const [name, { shape, data }] of await torchStateDict(model)) {
    tensors[name] = { dtype: "F32", shape: [...shape], data: data as Float32Array };
  }
  return encodeSafetensors(tensors, { format: "pt", model_config: JSON.stringify(model.config) });
}

/** Names this toolkit wrote before it used the pipeline's (`head.*` for `classifier.*`). */
const LEGACY_HEAD = /^head\.(\d+)\.(weight|bias)$/;

/**
 * Loads a PyTorch state_dict in safetensors form (as written by
 * {@link exportTorchStateDict} or by `safetensors.torch.save_file(model.state_dict())`)
 * into the classifier's variables (see {@link loadTorchStateDict}: strict names and shapes,
 * `bias_ih + bias_hh` summed). F64 tensors are narrowed to F32. Files written before the
 * head was named `classifier.*` (`head.0.weight`, ...) load too.
 */
export function loadClassifierWeights(model: LstmClassifier, bytes: Uint8Array): void {
  const file = decodeSafetensors(bytes);
  const state = new Map<string, TorchTensor>();
  for (const [name, t] of Object.entries(file.tensors)) {
    if (t.dtype !== "F32" && t.dtype !== "F64") {
      throw new TypeError(
        `Cannot load classifier weight "${name}": expected dtype F32 or F64, received ${t.dtype}`,
      );
    }
    const legacy = LEGACY_HEAD.exec(name);
    const torchName = legacy && !(`classifier.${legacy[1]}.${legacy[2]}` in file.tensors)
      ? `classifier.${legacy[1]}.${legacy[2]}`
      : name;
    const dtype = t.dtype === "F32" ? "float32" : "float64";
    state.set(torchName, new TorchTensor(dtype, t.shape, t.data as Float32Array | Float64Array));
  }
  loadTorchStateDict(model, state);
}
