/**
 * A typed JSON description of a {@link PyValue}, the same as `describe()` in
 * `tests/torch/pipeline.py` builds from a Python value, so the two sides compare exactly
 * (ints vs floats, tuples vs lists, dicts vs OrderedDicts, tensor bytes).
 */
import { PyOrderedDict, PyTuple, type PyValue, TorchTensor } from "../../src/torch/mod.ts";

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Describes `v`; set members are sorted, as the Python side sorts them. */
export function describe(v: PyValue): unknown {
  if (v === null || typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v === "bigint") return { int: String(v) };
  if (typeof v === "number") {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, false);
    return { float: hex(b) };
  }
  if (v instanceof Uint8Array) return { bytes: hex(v) };
  if (v instanceof TorchTensor) {
    return {
      tensor: v.dtype,
      shape: [...v.shape],
      requires_grad: v.requiresGrad,
      hex: hex(new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength)),
    };
  }
  if (v instanceof PyTuple) return { tuple: v.items.map(describe) };
  if (Array.isArray(v)) return v.map(describe);
  if (v instanceof Set) return { set: normalizeSet([...v].map(describe)) };
  const pairs = [...v].map(([k, x]) => [describe(k), describe(x)]);
  return v instanceof PyOrderedDict ? { ordered: pairs } : { dict: pairs };
}

function normalizeSet(items: unknown[]): unknown[] {
  return items.map(normalize).sort((a, b) =>
    JSON.stringify(a) < JSON.stringify(b) ? -1 : JSON.stringify(a) > JSON.stringify(b) ? 1 : 0
  );
}

/** Sorts the members of every set in a description (from either side) the same way. */
export function normalize(d: unknown): unknown {
  if (Array.isArray(d)) return d.map(normalize);
  if (d && typeof d === "object") {
    const o = d as Record<string, unknown>;
    if ("set" in o && Array.isArray(o.set)) return { set: normalizeSet(o.set) };
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, normalize(x)]));
  }
  return d;
}
