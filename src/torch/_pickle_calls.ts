// What REDUCE, NEWOBJ and BUILD make of the allowed globals, each a small pure function: tensors
// and parameters (through the tensor rebuilder), OrderedDict/Counter/set, bytes, torch.Size and
// torch.device, and the two additions to torch's list, pathlib paths (strings) and numpy scalars
// (numbers). Nothing from the file is ever called.
import { PyOrderedDict, PyTuple, type PyValue } from "./py_value.ts";
import { TORCH_DTYPE_NAMES, TorchTensor } from "./torch_tensor.ts";
import { describe, Global, type Item, type ItemChecks, NumpyDtype } from "./_pickle_items.ts";
import { DTYPE_OBJECTS, PATH_CLASSES, TENSOR_REBUILDERS } from "./_pickle_globals.ts";
import type { TensorRebuilder } from "./_pickle_tensors.ts";

/** numpy scalar dtypes: byte size and a little-endian reader. */
const NUMPY_SCALARS: Record<string, [number, (v: DataView) => PyValue]> = {
  f8: [8, (v) => v.getFloat64(0, true)],
  f4: [4, (v) => v.getFloat32(0, true)],
  i8: [8, (v) => v.getBigInt64(0, true)],
  u8: [8, (v) => v.getBigUint64(0, true)],
  i4: [4, (v) => BigInt(v.getInt32(0, true))],
  u4: [4, (v) => BigInt(v.getUint32(0, true))],
  i2: [2, (v) => BigInt(v.getInt16(0, true))],
  u2: [2, (v) => BigInt(v.getUint16(0, true))],
  i1: [1, (v) => BigInt(v.getInt8(0))],
  u1: [1, (v) => BigInt(v.getUint8(0))],
  b1: [1, (v) => v.getUint8(0) !== 0],
};

/** Joins pathlib's pickled parts the way `str(path)` prints them. */
function joinPath(cls: string, parts: readonly string[]): string {
  const windows = cls.includes("Windows");
  const sep = windows ? "\\" : "/";
  const absolute = windows ? /^([a-zA-Z]:)?[\\/]/ : /^\//;
  let out = "";
  for (const p of parts) {
    if (p === "") continue;
    if (out === "" || absolute.test(p)) out = p;
    else out += (out.endsWith(sep) || (windows && out.endsWith("/")) ? "" : sep) + p;
  }
  return out === "" ? "." : out;
}

/** REDUCE and NEWOBJ (`call`) and BUILD (`build`) over the allowed globals. */
export function globalCalls(checks: ItemChecks, tensors: TensorRebuilder) {
  const { fail, tuple, int, str } = checks;
  const { rebuildTensor, checkHooks, checkMetadata, asTensor } = tensors;

  /** What calling (REDUCE) or instantiating (NEWOBJ) an allowed global yields. */
  const call = (f: Item, argsItem: Item): Item => {
    if (!(f instanceof Global)) return fail(`REDUCE needs a global to call, found ${describe(f)}`);
    const args = tuple(argsItem, `the arguments of ${f.path}`);
    const arity = (lo: number, hi = lo) => {
      if (args.length < lo || args.length > hi) {
        fail(
          `${f.path} takes ${lo === hi ? lo : `${lo} to ${hi}`} arguments, found ${args.length}`,
        );
      }
    };
    const p = f.path;
    switch (p) {
      case "torch._utils._rebuild_tensor":
        arity(4);
        return rebuildTensor(args[0], args[1], args[2], args[3], false);
      case "torch._utils._rebuild_tensor_v2":
        arity(6, 7);
        checkHooks(args[5]);
        checkMetadata(args[6]);
        return rebuildTensor(args[0], args[1], args[2], args[3], args[4]);
      case "torch._utils._rebuild_tensor_v3": {
        arity(7, 8);
        checkHooks(args[5]);
        checkMetadata(args[7]);
        const d = args[6] instanceof Global ? DTYPE_OBJECTS.get(args[6].path) : undefined;
        if (!d) {
          fail(
            `a tensor dtype must be one of torch.${TORCH_DTYPE_NAMES.join(", torch.")}, found ${
              describe(args[6])
            }`,
          );
        }
        return rebuildTensor(args[0], args[1], args[2], args[3], args[4], d);
      }
      case "torch._utils._rebuild_parameter":
      case "torch._utils._rebuild_parameter_with_state":
      case "torch.nn.parameter.Parameter": {
        if (p === "torch.nn.parameter.Parameter") arity(0, 2);
        else arity(p.endsWith("state") ? 4 : 3);
        if (args.length > 2) checkHooks(args[2]);
        if (args.length === 0) return fail("an nn.Parameter without data is not supported");
        const t = asTensor(args[0], "a parameter's data");
        const rg = args.length > 1 ? args[1] : true;
        if (typeof rg !== "boolean") {
          fail(`a parameter's requires_grad must be a bool, found ${describe(rg)}`);
        }
        return new TorchTensor(t.dtype, t.shape, t.data, rg as boolean);
      }
      case "torch._tensor._rebuild_from_type_v2": {
        // (rebuild function, type, its arguments, Python attributes): attributes dropped.
        arity(4);
        const [fn, type, inner] = args;
        if (!(fn instanceof Global) || !TENSOR_REBUILDERS.has(fn.path)) {
          fail(`_rebuild_from_type_v2 must rebuild a tensor, found ${describe(fn)}`);
        }
        if (
          !(type instanceof Global) ||
          (type.path !== "torch.Tensor" && type.path !== "torch.nn.parameter.Parameter")
        ) {
          fail(
            `_rebuild_from_type_v2 supports torch.Tensor and nn.Parameter, found ${describe(type)}`,
          );
        }
        return call(fn, inner);
      }
      case "collections.OrderedDict":
      case "collections.Counter":
      case "builtins.set": {
        arity(0, 1);
        const out: Map<Item, Item> | Set<Item> = p === "builtins.set"
          ? new Set()
          : p === "collections.OrderedDict"
          ? new PyOrderedDict()
          : new Map();
        if (args.length === 0) return out;
        const init = args[0];
        if (out instanceof Set) {
          if (!Array.isArray(init) && !(init instanceof Set) && !(init instanceof PyTuple)) {
            fail(`set() needs a list, found ${describe(init)}`);
          }
          for (const v of init instanceof PyTuple ? init.items : init as Iterable<Item>) out.add(v);
          return out;
        }
        if (init instanceof Map) {
          for (const [k, v] of init) out.set(k, v);
          return out;
        }
        if (!Array.isArray(init)) {
          fail(`${p}() needs a dict or a list of pairs, found ${describe(init)}`);
        }
        for (const pair of init as Item[]) {
          const kv = pair instanceof PyTuple ? pair.items : Array.isArray(pair) ? pair : [];
          if (kv.length !== 2) fail(`${p}() needs (key, value) pairs, found ${describe(pair)}`);
          out.set(kv[0], kv[1]);
        }
        return out;
      }
      case "_codecs.encode":
      case "builtins.bytearray": {
        arity(p === "_codecs.encode" ? 2 : 0, 2);
        if (args.length === 0) return new Uint8Array(0);
        if (args[0] instanceof Uint8Array) return args[0].slice();
        if (Array.isArray(args[0])) {
          return Uint8Array.from(args[0], (v) => {
            const b = int(v, "a bytearray item");
            if (b > 255) fail(`a bytearray item must be 0..255, found ${b}`);
            return b;
          });
        }
        const s = str(args[0], `the text of ${p}`);
        const enc = args.length > 1 ? str(args[1], "an encoding").toLowerCase() : "";
        if (enc === "latin1" || enc === "latin-1") {
          const out = new Uint8Array(s.length);
          for (let i = 0; i < s.length; i++) {
            const c = s.charCodeAt(i);
            if (c > 255) fail(`latin-1 text holds the character U+${c.toString(16)}`);
            out[i] = c;
          }
          return out;
        }
        if (enc === "utf-8" || enc === "utf8") return new TextEncoder().encode(s);
        return fail(`${p} supports the latin-1 and utf-8 encodings, found ${JSON.stringify(enc)}`);
      }
      case "torch.Size":
        arity(1);
        tuple(args[0], "torch.Size's argument").forEach((d) => int(d, "a torch.Size dimension"));
        return args[0];
      case "torch.device": {
        arity(1, 2);
        const type = str(args[0], "a device type");
        return args.length === 2 ? `${type}:${int(args[1], "a device index")}` : type;
      }
      case "numpy.dtype": {
        arity(1, 3);
        return new NumpyDtype(str(args[0], "a numpy dtype"));
      }
      case "numpy.core.multiarray.scalar":
      case "numpy._core.multiarray.scalar":
        arity(2);
        return numpyScalar(args[0], args[1]);
    }
    const cls = p.slice("pathlib.".length);
    if (p.startsWith("pathlib.") && PATH_CLASSES.has(cls)) {
      return joinPath(cls, args.map((a) => str(a, "a path part")));
    }
    return fail(`${p} cannot be called`);
  };

  /** A numpy scalar from its dtype and its bytes (`numpy.core.multiarray.scalar`). */
  const numpyScalar = (dtype: Item, data: Item): Item => {
    if (!(dtype instanceof NumpyDtype)) {
      fail(`a numpy scalar needs a numpy.dtype, found ${describe(dtype)}`);
    }
    if (!(data instanceof Uint8Array)) fail(`a numpy scalar needs bytes, found ${describe(data)}`);
    const { descr, byteorder } = dtype as NumpyDtype;
    const b = (data as Uint8Array).slice();
    if (byteorder === ">") b.reverse();
    const read = Object.hasOwn(NUMPY_SCALARS, descr) ? NUMPY_SCALARS[descr] : undefined;
    if (!read) {
      return fail(
        `numpy scalars of dtype ${descr} are not supported (f8, f4, i1..i8, u1..u8, b1 are)`,
      );
    }
    if (b.length !== read[0]) {
      fail(`a numpy ${descr} scalar needs ${read[0]} bytes, found ${b.length}`);
    }
    return read[1](new DataView(b.buffer));
  };

  /** BUILD: an OrderedDict's attributes (`_metadata`) or a numpy dtype's byte order. */
  const build = (inst: Item, state: Item) => {
    if (inst instanceof PyOrderedDict) {
      if (!(state instanceof Map)) {
        fail(`an OrderedDict's state must be a dict, found ${describe(state)}`);
      }
      for (const [k, v] of state as Map<Item, Item>) {
        inst.attributes.set(str(k, "an attribute name"), v as PyValue);
      }
    } else if (inst instanceof NumpyDtype) {
      const s = tuple(state, "a numpy dtype's state");
      inst.byteorder = str(s[1], "a numpy byte order");
    } else {
      fail(
        `BUILD may only set the state of an OrderedDict or a numpy dtype, found ${describe(inst)}`,
      );
    }
  };
  return { call, build };
}
