// What the unpickler's stack holds beside Python data (PyValue): the allowed globals, storage
// references, numpy dtypes and MARK; how messages name them; the checks that an argument is a
// tuple, an int or a str; and the last check that a result holds data only.
import { PyOrderedDict, PyTuple, pyTypeName, type PyValue } from "./py_value.ts";
import type { TorchDtype } from "./torch_tensor.ts";
import type { Fail } from "./_pickle_reader.ts";

/** An allowed global, as pushed by GLOBAL: only ever matched by name, never called. */
export class Global {
  constructor(readonly path: string) {}
}

/** What a persistent id resolves to: one storage record, typed or untyped (bytes). */
export class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: TorchDtype | "untyped",
    readonly bytes: Uint8Array,
  ) {}
}

/** A `numpy.dtype` built by REDUCE, completed by BUILD (its byte order). */
export class NumpyDtype {
  byteorder = "=";
  constructor(readonly descr: string) {}
}

/** What MARK pushes: the stack is saved until POP_MARK, TUPLE, LIST, DICT, ... pop to it. */
export const MARK = Symbol("mark");
/** A stack item: a {@link PyValue} or one of the classes above (checked where it is used). */
export type Item = unknown;

/** How messages name a stack item: the global's path, the storage's record, or the Python type. */
export function describe(v: Item): string {
  if (v instanceof Global) return v.path;
  if (v instanceof StorageRef) return `a storage (data/${v.key})`;
  if (v instanceof NumpyDtype) return `numpy.dtype(${v.descr})`;
  if (v === MARK) return "MARK";
  return pyTypeName(v as PyValue);
}

/** The argument checks of one unpickling (see {@link itemChecks}). */
export type ItemChecks = ReturnType<typeof itemChecks>;

/** Argument checks that fail through `fail`, naming what was expected and what was found. */
export function itemChecks(fail: Fail) {
  /** The items of a tuple. */
  const tuple = (v: Item, what: string): readonly Item[] => {
    if (!(v instanceof PyTuple)) fail(`${what} must be a tuple, found ${describe(v)}`);
    return (v as PyTuple).items;
  };
  /** A non-negative int that fits a number. */
  const int = (v: Item, what: string): number => {
    if (typeof v !== "bigint" || v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) {
      fail(`${what} must be a non-negative int, found ${describe(v)}`);
    }
    return Number(v);
  };
  /** A str. */
  const str = (v: Item, what: string): string => {
    if (typeof v !== "string") fail(`${what} must be a str, found ${describe(v)}`);
    return v as string;
  };
  return { fail, tuple, int, str };
}

/**
 * Checks the result holds only {@link PyValue}s (no bare global, storage or MARK). Iterative:
 * a pickle can nest containers deeper than the call stack.
 */
export function checkResult(result: Item, fail: (what: string) => never): PyValue {
  const seen = new Set<object>();
  const todo: Item[] = [result];
  while (todo.length > 0) {
    const v = todo.pop();
    if (typeof v === "symbol") fail("the result holds a MARK (malformed pickle)");
    if (v === null || typeof v !== "object" || seen.has(v)) continue;
    seen.add(v);
    if (v instanceof Global) fail(`the result holds ${v.path} itself, which is not data`);
    if (v instanceof StorageRef) {
      fail(`the result holds a bare storage (data/${v.key}), outside a tensor`);
    }
    if (v instanceof NumpyDtype) fail("the result holds a numpy.dtype, which is not supported");
    if (v instanceof PyTuple) todo.push(...v.items);
    else if (Array.isArray(v) || v instanceof Set) { for (const x of v) todo.push(x); }
    else if (v instanceof Map) {
      for (const [k, x] of v) todo.push(k, x);
      if (v instanceof PyOrderedDict) { for (const x of v.attributes.values()) todo.push(x); }
    }
  }
  return result as PyValue;
}
