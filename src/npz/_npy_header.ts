// Parsing of the .npy header (a Python dict literal); the data block is decoded by _npy_data.ts.
import { NpzFormatError } from "./npz_format_error.ts";
import type { NpyDtype } from "./npy_types.ts";
import { NPY_DTYPES } from "./npy_types.ts";

/** The parsed `.npy` header. */
export interface NpyHeader {
  version: string;
  descr: string;
  dtype: NpyDtype;
  /** Bytes per element as stored (2 for float16). */
  itemSize: number;
  /** Stored byte order is little-endian (or irrelevant: one byte). */
  littleEndian: boolean;
  fortranOrder: boolean;
  shape: number[];
  count: number;
  /** Offset of the data block from the start of the `.npy` bytes. */
  dataOffset: number;
  /** count * itemSize. */
  dataBytes: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const KIND: Record<string, Record<number, NpyDtype>> = {
  b: { 1: "bool" },
  "?": { 1: "bool" },
  i: { 1: "int8", 2: "int16", 4: "int32", 8: "int64" },
  u: { 1: "uint8", 2: "uint16", 4: "uint32", 8: "uint64" },
  f: { 2: "float16", 4: "float32", 8: "float64" },
};

/** Bytes per element in memory (float16 is widened to 4). */
export const NATIVE_ITEM_SIZE: Record<NpyDtype, number> = {
  bool: 1,
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  float16: 4,
  int32: 4,
  uint32: 4,
  float32: 4,
  int64: 8,
  uint64: 8,
  float64: 8,
};

/** Stored `.npy` descr (little-endian) of each dtype. */
export const NPY_DESCR: Record<NpyDtype, string> = {
  bool: "|b1",
  int8: "|i1",
  uint8: "|u1",
  int16: "<i2",
  uint16: "<u2",
  float16: "<f2",
  int32: "<i4",
  uint32: "<u4",
  float32: "<f4",
  int64: "<i8",
  uint64: "<u8",
  float64: "<f8",
};

type PyValue = string | number | boolean | null | PyValue[] | Map<string, PyValue>;

/** Minimal parser for the Python literal numpy writes as the header dict. */
function parsePyLiteral(text: string): PyValue {
  let i = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at character ${i} of ${JSON.stringify(text.slice(0, 200))}`);
  };
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const value = (): PyValue => {
    ws();
    const c = text[i];
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) fail("unterminated string");
      const s = text.slice(i + 1, end);
      i = end + 1;
      return s;
    }
    if (c === "(" || c === "[") {
      const close = c === "(" ? ")" : "]";
      i++;
      const items: PyValue[] = [];
      for (;;) {
        ws();
        if (text[i] === close) {
          i++;
          return items;
        }
        items.push(value());
        ws();
        if (text[i] === ",") i++;
        else if (text[i] !== close) fail(`expected ',' or '${close}'`);
      }
    }
    if (c === "{") {
      i++;
      const map = new Map<string, PyValue>();
      for (;;) {
        ws();
        if (text[i] === "}") {
          i++;
          return map;
        }
        const key = value();
        if (typeof key !== "string") fail("expected a string key");
        ws();
        if (text[i] !== ":") fail("expected ':'");
        i++;
        map.set(key as string, value());
        ws();
        if (text[i] === ",") i++;
        else if (text[i] !== "}") fail("expected ',' or '}'");
      }
    }
    const m = /^(True|False|None|-?\d+L?)/.exec(text.slice(i, i + 32));
    if (!m) return fail("unexpected token");
    i += m[0].length;
    if (m[0] === "True") return true;
    if (m[0] === "False") return false;
    if (m[0] === "None") return null;
    return Number.parseInt(m[0], 10);
  };
  const v = value();
  ws();
  if (i !== text.length) fail("trailing characters");
  return v;
}

function describeDescr(descr: string): string {
  return JSON.stringify(descr);
}

/** Maps a numpy descr such as `"<f4"` to a dtype, or explains why it is unsupported. */
function dtypeOfDescr(
  descr: PyValue,
  member: string,
  offset: number,
): { dtype: NpyDtype; itemSize: number; littleEndian: boolean } {
  const where = member === "" ? "the .npy data" : `member "${member}"`;
  if (typeof descr !== "string") {
    throw new NpzFormatError(
      `Cannot read ${where}: structured (record) dtypes are not supported; received descr ` +
        `${JSON.stringify(descr)}; save each field as its own array`,
      member,
      offset,
    );
  }
  const m = /^([<>|=]?)([a-zA-Z?])(\d*)(\[.*\])?$/.exec(descr);
  const kind = m?.[2] ?? "";
  if (kind === "O") {
    throw new NpzFormatError(
      `Cannot read ${where}: it is an object array (descr ${describeDescr(descr)}), whose data ` +
        `is a Python pickle; pickles are never loaded (they can run code); save the array ` +
        `with a numeric dtype instead`,
      member,
      offset,
    );
  }
  if (kind === "U" || kind === "S" || kind === "a") {
    throw new NpzFormatError(
      `Cannot read ${where}: string arrays (descr ${describeDescr(descr)}) are not supported; ` +
        `supported dtypes: ${NPY_DTYPES.join(", ")}; encode the strings as integer codes`,
      member,
      offset,
    );
  }
  const size = m && m[3] !== "" ? Number(m[3]) : kind === "?" ? 1 : NaN;
  const dtype = m && !m[4] ? KIND[kind]?.[size] : undefined;
  if (!m || dtype === undefined) {
    throw new NpzFormatError(
      `Cannot read ${where}: unsupported dtype ${describeDescr(descr)}; supported: ` +
        `${NPY_DTYPES.join(", ")} (either byte order)`,
      member,
      offset,
    );
  }
  const order = m[1];
  return { dtype, itemSize: size, littleEndian: order !== ">" };
}

/**
 * Parses the `.npy` header at the start of `bytes`. `member` and `base` (the offset of
 * `bytes` in the whole input) only label errors.
 */
export function parseNpyHeader(bytes: Uint8Array, member: string, base: number): NpyHeader {
  const where = member === "" ? "the .npy data" : `member "${member}"`;
  for (let k = 0; k < MAGIC.length; k++) {
    if (bytes[k] !== MAGIC[k]) {
      const got = Array.from(bytes.subarray(0, 6), (b) => b.toString(16).padStart(2, "0"));
      throw new NpzFormatError(
        `Cannot read ${where}: bad magic; expected "\\x93NUMPY" (93 4e 55 4d 50 59), ` +
          `received ${got.join(" ") || "nothing"}; this is not a .npy file`,
        member,
        base + k,
      );
    }
  }
  if (bytes.length < 10) {
    throw new NpzFormatError(
      `Cannot read ${where}: truncated header; need at least 10 bytes, received ${bytes.length}`,
      member,
      base + bytes.length,
    );
  }
  const major = bytes[6];
  const minor = bytes[7];
  if (major < 1 || major > 3 || minor !== 0) {
    throw new NpzFormatError(
      `Cannot read ${where}: unsupported .npy format version ${major}.${minor}; ` +
        `supported: 1.0, 2.0, 3.0`,
      member,
      base + 6,
    );
  }
  const lenBytes = major === 1 ? 2 : 4;
  const start = 8 + lenBytes;
  if (bytes.length < start) {
    throw new NpzFormatError(
      `Cannot read ${where}: truncated header length field`,
      member,
      base + bytes.length,
    );
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const dataOffset = start + headerLen;
  if (bytes.length < dataOffset) {
    throw new NpzFormatError(
      `Cannot read ${where}: truncated header; it declares ${headerLen} header bytes but only ` +
        `${bytes.length - start} are present`,
      member,
      base + bytes.length,
    );
  }
  const raw = bytes.subarray(start, dataOffset);
  const text = (major === 3 ? new TextDecoder("utf-8") : new TextDecoder("latin1")).decode(raw);
  let dict: PyValue;
  try {
    dict = parsePyLiteral(text.trim());
  } catch (cause) {
    throw new NpzFormatError(
      `Cannot read ${where}: the header is not a valid Python dict literal: ` +
        `${(cause as Error).message}`,
      member,
      base + start,
      { cause },
    );
  }
  if (!(dict instanceof Map) || !dict.has("descr") || !dict.has("shape")) {
    throw new NpzFormatError(
      `Cannot read ${where}: the header must be a dict with keys 'descr', 'fortran_order' ` +
        `and 'shape'; received ${JSON.stringify(text.trim().slice(0, 200))}`,
      member,
      base + start,
    );
  }
  const { dtype, itemSize, littleEndian } = dtypeOfDescr(dict.get("descr")!, member, base + start);
  const fortran = dict.get("fortran_order") ?? false;
  const shapeV = dict.get("shape");
  if (
    typeof fortran !== "boolean" || !Array.isArray(shapeV) ||
    !shapeV.every((d) => typeof d === "number" && Number.isSafeInteger(d) && d >= 0)
  ) {
    throw new NpzFormatError(
      `Cannot read ${where}: invalid header values; expected 'fortran_order' a bool and ` +
        `'shape' a tuple of non-negative ints, received ${JSON.stringify(text.trim())}`,
      member,
      base + start,
    );
  }
  const shape = shapeV as number[];
  const count = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(count * itemSize)) {
    throw new NpzFormatError(
      `Cannot read ${where}: header shape (${shape.join(", ")}) is too large`,
      member,
      base + start,
    );
  }
  return {
    version: `${major}.${minor}`,
    descr: dict.get("descr") as string,
    dtype,
    itemSize,
    littleEndian,
    fortranOrder: fortran,
    shape,
    count,
    dataOffset,
    dataBytes: count * itemSize,
  };
}

/** Throws when `available` bytes cannot hold the data the header declares. */
export function checkDataSize(h: NpyHeader, available: number, member: string, base: number) {
  if (available < h.dataBytes) {
    const where = member === "" ? "the .npy data" : `member "${member}"`;
    throw new NpzFormatError(
      `Cannot read ${where}: header shape (${h.shape.join(", ")}) of ${h.descr} needs ` +
        `${h.dataBytes} data bytes but only ${available} are present; the file is truncated ` +
        `or the header is wrong`,
      member,
      base + h.dataOffset + available,
    );
  }
}
