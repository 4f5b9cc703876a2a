/**
 * `unpickle`: a restricted pickle reader for torch checkpoints. It follows the rules of
 * `torch.load(weights_only=True)`: a pickle may only build tensors (from storage records),
 * dicts, `OrderedDict`s, lists, tuples, sets, numbers, strings and bytes. Every global is
 * checked against an allowlist when the GLOBAL opcode is read, before anything else happens;
 * opcodes that build arbitrary objects (INST, OBJ, EXT*) are refused. Nothing in the file is
 * ever called: each allowed global is a small pure function here (`_pickle_calls.ts`).
 *
 * Beyond torch's list, and only as data: `pathlib` paths become strings and numpy scalars
 * (`np.float64(0.5)`, as older scikit-learn returned from `f1_score`) become numbers, because
 * the PyTorch pipeline's checkpoints may hold them in `args` and `best_val_f1`.
 *
 * Supported: protocols 2 (what `torch.save` writes) to 5, minus out-of-band buffers.
 *
 * This file is the stack machine (the opcodes, the stack, MARK and the memo). Its parts, private
 * to `src/torch/`: `_pickle_reader.ts` (the bytes), `_pickle_items.ts` (what the stack holds),
 * `_pickle_globals.ts` (the allowlist), `_pickle_tensors.ts` (storages and tensors) and
 * `_pickle_calls.ts` (what each allowed global builds).
 *
 * @module
 */
import { PyTuple, type PyValue } from "./py_value.ts";
import { decodeLong, pickleReader, utf8 } from "./_pickle_reader.ts";
import { checkResult, describe, Global, type Item, itemChecks } from "./_pickle_items.ts";
import { checkGlobal, WHAT_IS_ALLOWED } from "./_pickle_globals.ts";
import { tensorRebuilder } from "./_pickle_tensors.ts";
import { globalCalls } from "./_pickle_calls.ts";

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
  const { str } = checks;
  const tensors = tensorRebuilder({ ...options, maxElements }, checks);
  const { persistentLoad } = tensors;
  const { call, build } = globalCalls(checks, tensors);

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
