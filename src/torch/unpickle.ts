/**
 * `unpickle`: a restricted pickle reader for torch checkpoints. It follows the rules of
 * `torch.load(weights_only=True)`: a pickle may only build tensors (from storage records),
 * dicts, `OrderedDict`s, lists, tuples, sets, numbers, strings and bytes. Every global is
 * checked against an allowlist when the GLOBAL opcode is read, before anything else happens;
 * opcodes that build arbitrary objects (INST, OBJ, EXT*) are refused. Nothing in the file is
 * ever called: each allowed global is a small pure function of this module.
 *
 * Beyond torch's list, and only as data: `pathlib` paths become strings and numpy scalars
 * (`np.float64(0.5)`, as older scikit-learn returned from `f1_score`) become numbers, because
 * the PyTorch pipeline's checkpoints may hold them in `args` and `best_val_f1`.
 *
 * Supported: protocols 2 (what `torch.save` writes) to 5, minus out-of-band buffers.
 *
 * Parts, private to `src/torch/`: `_pickle_reader.ts` (the bytes), `_pickle_items.ts` (what
 * the stack holds) and `_pickle_globals.ts` (the allowlist).
 *
 * @module
 */
import { PyOrderedDict, PyTuple, type PyValue } from "./py_value.ts";
import {
  numelOf,
  TORCH_DTYPE_NAMES,
  TORCH_DTYPES,
  type TorchDtype,
  TorchTensor,
} from "./torch_tensor.ts";
import { decodeLong, pickleReader, utf8 } from "./_pickle_reader.ts";
import {
  checkResult,
  describe,
  Global,
  type Item,
  itemChecks,
  NumpyDtype,
  StorageRef,
} from "./_pickle_items.ts";
import {
  checkGlobal,
  DTYPE_OBJECTS,
  PATH_CLASSES,
  STORAGE_DTYPES,
  TENSOR_REBUILDERS,
  WHAT_IS_ALLOWED,
} from "./_pickle_globals.ts";

/** Options for {@link unpickle}. */
export interface UnpickleOptions {
  /**
   * Returns the bytes of the storage record `data/<key>` (undefined when absent). Required
   * when the pickle references storages (every tensor does).
   */
  readonly storage?: (key: string) => Uint8Array | undefined;
  /** Byte order of the storage records (the archive's `byteorder` record); default little. */
  readonly byteorder?: "little" | "big";
  /**
   * Refuse a pickle whose tensors hold more elements than this in total (default 2^28, 1 GiB
   * of float32): a small file can describe huge views of one storage.
   */
  readonly maxElements?: number;
  /** Name of the pickle record, for messages; default `"data.pkl"`. */
  readonly record?: string;
}

/** Default {@link UnpickleOptions.maxElements}. */
export const DEFAULT_MAX_ELEMENTS = 2 ** 28;

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

/** The opcodes refused by name; any other opcode the loop does not read is unknown. */
const OPCODE_NAMES: Record<number, string> = {
  0x69: "INST",
  0x6f: "OBJ",
  0x82: "EXT1",
  0x83: "EXT2",
  0x84: "EXT4",
  0x97: "NEXT_BUFFER",
  0x98: "READONLY_BUFFER",
  0x50: "PERSID",
  0x49: "INT",
  0x4c: "LONG",
  0x46: "FLOAT",
  0x53: "STRING",
  0x56: "UNICODE",
  0x54: "BINSTRING",
  0x67: "GET",
  0x70: "PUT",
};

/**
 * Reads a pickle restricted to checkpoint data (see the module doc) and returns its value.
 *
 * @throws {TorchFormatError} for a malformed pickle, a refused global or opcode (naming it,
 * with nothing from the file run), a missing storage record, or a tensor that does not fit
 * its storage.
 * @example
 * ```ts
 * // A protocol-2 pickle of {"epoch": 3}.
 * const bytes = new Uint8Array([0x80, 2, 0x7d, 0x58, 5, 0, 0, 0, ...new TextEncoder().encode("epoch"), 0x4b, 3, 0x73, 0x2e]);
 * const value = unpickle(bytes) as Map<string, bigint>; // Map { "epoch" => 3n }
 * ```
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions = {}): PyValue {
  const record = options.record ?? "data.pkl";
  const maxElements = options.maxElements ?? DEFAULT_MAX_ELEMENTS;
  const reader = pickleReader(bytes, record);
  const { dv, fail, need, take, u32, u64, line } = reader;
  const checks = itemChecks(fail);
  const { tuple, int, str } = checks;
  let elements = 0;
  const storages = new Map<string, Uint8Array>();

  const storageBytes = (key: string): Uint8Array => {
    const known = storages.get(key);
    if (known) return known;
    if (!options.storage) {
      fail(`the pickle references storage data/${key}, but no records were given`);
    }
    const raw = options.storage!(key);
    if (!raw) fail(`the storage record data/${key} is missing from the archive`);
    const copy = raw!.slice(); // aligned for typed arrays, and private
    storages.set(key, copy);
    return copy;
  };

  const persistentLoad = (pid: Item): StorageRef => {
    const t = tuple(pid, "a persistent id");
    if (t.length !== 5 || t[0] !== "storage") {
      fail(
        `only storage persistent ids ("storage", type, key, location, numel) are allowed, found a ${t.length}-tuple starting ${
          describe(t[0])
        }`,
      );
    }
    const type = t[1];
    const dtype = type instanceof Global ? STORAGE_DTYPES.get(type.path) : undefined;
    if (!dtype) fail(`a storage type must be a torch storage class, found ${describe(type)}`);
    const key = str(t[2], "a storage key");
    str(t[3], "a storage location");
    const numel = int(t[4], "a storage size");
    const data = storageBytes(key);
    const size = dtype === "untyped" ? 1 : TORCH_DTYPES[dtype!].size;
    if (data.length !== numel * size) {
      fail(
        `storage data/${key} holds ${data.length} bytes, its pickle declares ${numel} elements of ${size} bytes`,
      );
    }
    return new StorageRef(key, dtype!, data);
  };

  /** A dense copy of the strided view (storage, offset, size, stride) as `dtype`. */
  const rebuildTensor = (
    storage: Item,
    offsetItem: Item,
    sizeItem: Item,
    strideItem: Item,
    requiresGrad: Item,
    dtypeIn?: TorchDtype,
  ): TorchTensor => {
    if (!(storage instanceof StorageRef)) {
      return fail(`a tensor's storage must come from a persistent id, found ${describe(storage)}`);
    }
    const dtype = dtypeIn ?? (storage.dtype === "untyped" ? "uint8" : storage.dtype);
    if (dtypeIn && storage.dtype !== "untyped" && storage.dtype !== dtypeIn) {
      fail(`a ${dtypeIn} tensor cannot view a ${storage.dtype} storage`);
    }
    const shape = tuple(sizeItem, "a tensor size").map((d) => int(d, "a tensor dimension"));
    const stride = tuple(strideItem, "a tensor stride").map((d) => int(d, "a tensor stride"));
    const offset = int(offsetItem, "a tensor storage offset");
    if (stride.length !== shape.length) {
      fail(`a tensor has ${shape.length} dimensions but ${stride.length} strides`);
    }
    const spec = TORCH_DTYPES[dtype];
    const available = Math.floor(storage.bytes.length / spec.size);
    const n = numelOf(shape);
    elements += n;
    if (elements > maxElements) {
      fail(
        `a tensor of shape [${shape}] brings the tensors to ${elements} elements, over the limit maxElements = ${maxElements}`,
      );
    }
    const last = n === 0 ? -1 : offset + shape.reduce((a, d, i) => a + (d - 1) * stride[i], 0);
    if (last >= available) {
      fail(
        `a tensor of shape [${shape}], stride [${stride}], offset ${offset} reaches element ${last} of a ${available}-element storage (data/${storage.key})`,
      );
    }
    let src: Uint8Array = storage.bytes;
    if (options.byteorder === "big" && spec.size > 1) {
      src = src.slice();
      for (let i = 0; i + spec.size <= src.length; i += spec.size) {
        src.subarray(i, i + spec.size).reverse();
      }
    }
    const elems = new spec.ctor(src.buffer, src.byteOffset, available);
    const out = new spec.ctor(n);
    let contiguous = true;
    for (let i = shape.length - 1, expect = 1; i >= 0; expect *= shape[i], i--) {
      if (shape[i] !== 1 && stride[i] !== expect) contiguous = false;
    }
    if (contiguous) {
      out.set(elems.subarray(offset, offset + n));
    } else {
      const idx = new Array(shape.length).fill(0);
      for (let k = 0; k < n; k++) {
        let at = offset;
        for (let i = 0; i < shape.length; i++) at += idx[i] * stride[i];
        out[k] = elems[at];
        for (let i = shape.length - 1; i >= 0; i--) {
          if (++idx[i] < shape[i]) break;
          idx[i] = 0;
        }
      }
    }
    if (typeof requiresGrad !== "boolean") {
      fail(`a tensor's requires_grad must be a bool, found ${describe(requiresGrad)}`);
    }
    return new TorchTensor(dtype, shape, out, requiresGrad as boolean);
  };

  const checkHooks = (hooks: Item) => {
    if (!(hooks instanceof Map) || hooks.size > 0) {
      fail(`a tensor's backward hooks must be an empty OrderedDict, found ${describe(hooks)}`);
    }
  };
  const checkMetadata = (metadata: Item) => {
    if (metadata === null || metadata === undefined) return;
    if (!(metadata instanceof Map)) {
      fail(`tensor metadata must be a dict, found ${describe(metadata)}`);
    }
    for (const [k, v] of metadata as Map<Item, Item>) {
      if (v !== false) {
        fail(
          `tensor metadata ${describe(k)}=${
            String(v)
          } (negative or conjugate views) is not supported`,
        );
      }
    }
  };
  const asTensor = (v: Item, what: string): TorchTensor => {
    if (!(v instanceof TorchTensor)) fail(`${what} must be a tensor, found ${describe(v)}`);
    return v as TorchTensor;
  };

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

  let stack: Item[] = [];
  const metastack: Item[][] = [];
  const memo = new Map<number, Item>();

  const pop = (): Item => {
    if (stack.length === 0) fail("the stack is empty (malformed pickle)");
    return stack.pop();
  };
  const top = (): Item => {
    if (stack.length === 0) fail("the stack is empty (malformed pickle)");
    return stack[stack.length - 1];
  };
  const popMark = (): Item[] => {
    const items = stack;
    const prev = metastack.pop();
    if (!prev) fail("no MARK to pop to (malformed pickle)");
    stack = prev!;
    return items;
  };

  const setItems = (target: Item, items: Item[]) => {
    if (!(target instanceof Map)) fail(`SETITEM(S) needs a dict, found ${describe(target)}`);
    if (items.length % 2 !== 0) fail("SETITEMS needs key/value pairs (odd item count)");
    for (let i = 0; i < items.length; i += 2) {
      (target as Map<Item, Item>).set(items[i], items[i + 1]);
    }
  };

  for (;;) {
    reader.startOpcode();
    const op = bytes[need(1)];
    switch (op) {
      case 0x80: { // PROTO
        const v = bytes[need(1)];
        if (v < 2 || v > 5) fail(`pickle protocol ${v} is not supported (2 to 5 are)`);
        break;
      }
      case 0x95: // FRAME: a length prefix only
        u64();
        break;
      case 0x2e: { // STOP
        const result = pop();
        return checkResult(result, fail);
      }
      case 0x28: // MARK
        metastack.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        if (stack.length > 0) stack.pop();
        else popMark();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4b: // BININT1
        stack.push(BigInt(bytes[need(1)]));
        break;
      case 0x4d: // BININT2
        stack.push(BigInt(dv.getUint16(need(2), true)));
        break;
      case 0x4a: // BININT
        stack.push(BigInt(dv.getInt32(need(4), true)));
        break;
      case 0x8a: // LONG1
        stack.push(decodeLong(take(bytes[need(1)])));
        break;
      case 0x8b: { // LONG4
        const n = dv.getInt32(need(4), true);
        if (n < 0 || n > 65536) fail(`a LONG4 of ${n} bytes is out of range`);
        stack.push(decodeLong(take(n)));
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        stack.push(dv.getFloat64(need(8), false));
        break;
      case 0x58: // BINUNICODE
        stack.push(utf8.decode(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8.decode(take(bytes[need(1)])));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8.decode(take(u64())));
        break;
      case 0x55: // SHORT_BINSTRING (a Python 2 str)
        stack.push(utf8.decode(take(bytes[need(1)])));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(bytes[need(1)]).slice());
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(take(u64()).slice());
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PyTuple([]));
        break;
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: { // TUPLE3
        const n = op - 0x84;
        if (stack.length < n) fail(`TUPLE${n} needs ${n} items on the stack`);
        stack.push(new PyTuple(stack.splice(stack.length - n, n) as PyValue[]));
        break;
      }
      case 0x74: // TUPLE
        {
          const items = popMark();
          stack.push(new PyTuple(items as PyValue[]));
        }
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        {
          const items = popMark();
          stack.push(items);
        }
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: { // DICT
        const items = popMark();
        const d = new Map();
        setItems(d, items);
        stack.push(d);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x91: // FROZENSET
        {
          const items = popMark();
          stack.push(new Set(items));
        }
        break;
      case 0x90: { // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) fail(`ADDITEMS needs a set, found ${describe(s)}`);
        for (const v of items) (s as Set<Item>).add(v);
        break;
      }
      case 0x61: { // APPEND
        const v = pop();
        const list = top();
        if (!Array.isArray(list)) fail(`APPEND needs a list, found ${describe(list)}`);
        (list as Item[]).push(v);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list)) fail(`APPENDS needs a list, found ${describe(list)}`);
        for (const v of items) (list as Item[]).push(v);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x68: // BINGET
      case 0x6a: { // LONG_BINGET
        const i = op === 0x68 ? bytes[need(1)] : u32();
        if (!memo.has(i)) fail(`memo entry ${i} was never stored`);
        stack.push(memo.get(i));
        break;
      }
      case 0x71: // BINPUT
        memo.set(bytes[need(1)], top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x63: { // GLOBAL
        const module = line();
        stack.push(checkGlobal(module, line(), fail));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        stack.push(checkGlobal(str(module, "a module name"), str(name, "a global name"), fail));
        break;
      }
      case 0x51: // BINPERSID
        stack.push(persistentLoad(pop()));
        break;
      case 0x52: { // REDUCE
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x81: // NEWOBJ
      case 0x92: { // NEWOBJ_EX
        if (op === 0x92) {
          const kwargs = pop();
          if (!(kwargs instanceof Map) || kwargs.size > 0) {
            fail("NEWOBJ_EX with keyword arguments is not supported");
          }
        }
        const args = pop();
        const cls = pop();
        const path = cls instanceof Global ? cls.path : "";
        if (
          path === "collections.OrderedDict" || path === "collections.Counter" ||
          path === "builtins.set"
        ) {
          stack.push(call(cls, new PyTuple([])));
        } else if (path === "torch.nn.parameter.Parameter") {
          stack.push(call(cls, args));
        } else {
          fail(
            `NEWOBJ may only create an OrderedDict, Counter, set or nn.Parameter, found ${
              describe(cls)
            }`,
          );
        }
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        build(top(), state);
        break;
      }
      default: {
        const name = OPCODE_NAMES[op];
        fail(
          name
            ? `opcode ${name} (0x${op.toString(16)}) is not allowed: ${WHAT_IS_ALLOWED}`
            : `unknown opcode 0x${op.toString(16)} (not a pickle, or a corrupt one)`,
        );
      }
    }
  }
}
