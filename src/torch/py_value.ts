/**
 * The values a torch checkpoint's pickle holds, as plain JavaScript, with Python's types kept
 * apart so that what is read can be written back unchanged:
 *
 * | Python                 | here                                        |
 * |------------------------|---------------------------------------------|
 * | `None`, `bool`, `str`  | `null`, `boolean`, `string`                 |
 * | `int`                  | `bigint` (Python ints are unbounded)        |
 * | `float`                | `number`                                    |
 * | `bytes`, `bytearray`   | `Uint8Array`                                |
 * | `list`                 | `PyValue[]`                                 |
 * | `tuple`, `torch.Size`  | {@link PyTuple}                             |
 * | `dict`                 | `Map` (insertion order, keys of any type)   |
 * | `collections.OrderedDict` | {@link PyOrderedDict} (a `Map`)          |
 * | `set`                  | `Set`                                       |
 * | `torch.Tensor`, `nn.Parameter` | {@link TorchTensor}                 |
 * | `pathlib` paths        | `string` (read only)                        |
 * | numpy scalars          | `number` / `bigint` / `boolean` (read only) |
 *
 * @module
 */
import type { TorchTensor } from "./torch_tensor.ts";

/** Any value of a torch checkpoint (see the module table). */
export type PyValue =
  | null
  | boolean
  | bigint
  | number
  | string
  | Uint8Array
  | PyValue[]
  | PyTuple
  | Map<PyValue, PyValue>
  | Set<PyValue>
  | TorchTensor;

/** A Python `tuple` (a JavaScript array stands for a `list`). */
export class PyTuple {
  /** The tuple's items, frozen. */
  readonly items: readonly PyValue[];

  /** Wraps `items` (copied and frozen). */
  constructor(items: readonly PyValue[]) {
    this.items = Object.freeze([...items]);
  }

  /** Number of items. */
  get length(): number {
    return this.items.length;
  }
}

/** Shorthand for `new PyTuple(items)`. */
export function pyTuple(...items: PyValue[]): PyTuple {
  return new PyTuple(items);
}

/**
 * A `collections.OrderedDict` (what `nn.Module.state_dict()` returns). `attributes` holds
 * the instance attributes pickled with it, e.g. the state dict's `_metadata` (module versions).
 */
export class PyOrderedDict<K extends PyValue = PyValue, V extends PyValue = PyValue>
  extends Map<K, V> {
  /** Instance attributes (`obj.__dict__`), written with pickle's BUILD when not empty. */
  readonly attributes: Map<string, PyValue> = new Map();
}

/** A readable name of a value's Python type, for error messages. */
export function pyTypeName(v: PyValue | undefined): string {
  if (v === undefined) return "nothing";
  if (v === null) return "None";
  switch (typeof v) {
    case "boolean":
      return "bool";
    case "bigint":
      return "int";
    case "number":
      return "float";
    case "string":
      return "str";
  }
  if (v instanceof Uint8Array) return "bytes";
  if (Array.isArray(v)) return "list";
  if (v instanceof PyTuple) return "tuple";
  if (v instanceof PyOrderedDict) return "OrderedDict";
  if (v instanceof Map) return "dict";
  if (v instanceof Set) return "set";
  return `Tensor(${v.dtype}, [${v.shape}])`;
}

/**
 * Python's `repr(float)`: the shortest digits that round-trip (as JavaScript's), laid out as
 * Python does: fixed notation for exponents -4..15 with at least one decimal (`1.0`,
 * `0.0001`), scientific with a signed two-digit exponent otherwise (`1e-05`, `1e+16`).
 *
 * @example
 * ```ts
 * pythonFloatRepr(1e-5); // "1e-05"
 * pythonFloatRepr(2); // "2.0"
 * ```
 */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [mantissa, exponent] = x.toExponential().split("e");
  const exp = Number(exponent);
  const sign = x < 0 ? "-" : "";
  const digits = mantissa.replace("-", "").replace(".", "");
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  const whole = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
  return `${sign}${whole}.${digits.slice(exp + 1) || "0"}`;
}

/**
 * Python's `str()` of a scalar: `True`/`False`, `None`, ints, floats as
 * {@link pythonFloatRepr}, strings as they are (what MLflow logs as a param value).
 */
export function pythonStr(v: null | boolean | bigint | number | string): string {
  if (v === null) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number") return pythonFloatRepr(v);
  return String(v);
}
