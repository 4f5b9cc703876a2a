/**
 * `pickle`: writes a {@link PyValue} as a protocol-2 pickle the way `torch.save` does
 * (tensors as `torch._utils._rebuild_tensor_v2` of a persistent storage id, bytes as
 * `_codecs.encode`), using only what `torch.load(weights_only=True)` accepts.
 *
 * @module
 */
import { PyOrderedDict, PyTuple, type PyValue } from "./py_value.ts";
import { TORCH_DTYPES, TorchTensor } from "./torch_tensor.ts";

/** A pickle and the storage records its tensors reference (`data/<index>`). */
export interface PickledValue {
  /** The `data.pkl` record. */
  readonly pickle: Uint8Array;
  /** Storage `k` is the record `data/<k>`: the little-endian bytes of one tensor. */
  readonly storages: readonly Uint8Array[];
}

/** pickle's batch size for APPENDS / SETITEMS. */
const BATCH = 1000;

class ByteSink {
  private buf = new Uint8Array(1 << 12);
  length = 0;
  private readonly enc = new TextEncoder();

  private grow(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  op(...codes: number[]): void {
    this.grow(codes.length);
    this.buf.set(codes, this.length);
    this.length += codes.length;
  }
  bytes(b: Uint8Array): void {
    this.grow(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  view(n: number, write: (dv: DataView) => void): void {
    this.grow(n);
    write(new DataView(this.buf.buffer, this.length, n));
    this.length += n;
  }
  text(s: string): Uint8Array {
    return this.enc.encode(s);
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/**
 * Pickles `value` (protocol 2) and collects the storages of its tensors, one per distinct
 * {@link TorchTensor} object, in the order they are first met.
 *
 * @throws {TypeError} for a value outside {@link PyValue} (naming where it is) or a cycle.
 * @example
 * ```ts
 * import { pyTuple } from "./py_value.ts";
 * const { pickle: pkl, storages } = pickle(new Map([["betas", pyTuple(0.9, 0.999)]]));
 * ```
 */
export function pickle(value: PyValue): PickledValue {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new Error("Cannot write a torch pickle: this platform is big-endian");
  }
  const out = new ByteSink();
  const storages: Uint8Array[] = [];
  const storageKeys = new Map<TorchTensor, number>();
  const open = new Set<object>();

  const global = (module: string, name: string) => {
    out.op(0x63); // GLOBAL
    out.bytes(out.text(`${module}\n${name}\n`));
  };
  const str = (s: string) => {
    const b = out.text(s);
    out.view(5, (dv) => {
      dv.setUint8(0, 0x58); // BINUNICODE
      dv.setUint32(1, b.length, true);
    });
    out.bytes(b);
  };
  const int = (v: bigint) => {
    if (v >= 0n && v < 256n) out.op(0x4b, Number(v)); // BININT1
    else if (v >= 0n && v < 65536n) {
      out.view(3, (dv) => {
        dv.setUint8(0, 0x4d); // BININT2
        dv.setUint16(1, Number(v), true);
      });
    } else if (v >= -(2n ** 31n) && v < 2n ** 31n) {
      out.view(5, (dv) => {
        dv.setUint8(0, 0x4a); // BININT
        dv.setInt32(1, Number(v), true);
      });
    } else {
      // LONG1: minimal little-endian two's complement.
      const bytes: number[] = [];
      let x = v;
      for (;;) {
        bytes.push(Number(x & 0xffn));
        x >>= 8n;
        const sign = bytes[bytes.length - 1] & 0x80;
        if ((x === 0n && !sign) || (x === -1n && sign)) break;
      }
      out.op(0x8a, bytes.length, ...bytes);
    }
  };
  const float = (v: number) =>
    out.view(9, (dv) => {
      dv.setUint8(0, 0x47); // BINFLOAT, big-endian
      dv.setFloat64(1, v, false);
    });
  const tuple = (items: readonly (() => void)[]) => {
    if (items.length === 0) return out.op(0x29); // EMPTY_TUPLE
    if (items.length > 3) out.op(0x28); // MARK
    items.forEach((write) => write());
    out.op(items.length <= 3 ? 0x84 + items.length : 0x74); // TUPLE1..3 / TUPLE
  };
  const batches = <T>(items: readonly T[], one: number, many: number, write: (x: T) => void) => {
    for (let i = 0; i < items.length; i += BATCH) {
      const chunk = items.slice(i, i + BATCH);
      if (chunk.length > 1) out.op(0x28); // MARK
      chunk.forEach(write);
      out.op(chunk.length > 1 ? many : one);
    }
  };

  const tensor = (t: TorchTensor) => {
    let key = storageKeys.get(t);
    if (key === undefined) {
      key = storages.length;
      storageKeys.set(t, key);
      storages.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).slice());
    }
    const k = key;
    const strides = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    global("torch._utils", "_rebuild_tensor_v2");
    tuple([
      () => {
        tuple([
          () => str("storage"),
          () => global("torch", TORCH_DTYPES[t.dtype].storage),
          () => str(String(k)),
          () => str("cpu"),
          () => int(BigInt(t.data.length)),
        ]);
        out.op(0x51); // BINPERSID
      },
      () => int(0n),
      () => tuple(t.shape.map((d) => () => int(BigInt(d)))),
      () => tuple(strides.map((d) => () => int(BigInt(d)))),
      () => out.op(t.requiresGrad ? 0x88 : 0x89),
      () => emptyOrderedDict(),
    ]);
    out.op(0x52); // REDUCE
  };
  const emptyOrderedDict = () => {
    global("collections", "OrderedDict");
    out.op(0x29, 0x52); // EMPTY_TUPLE, REDUCE
  };

  const write = (v: PyValue | undefined, path: string): void => {
    if (v === null) return out.op(0x4e); // NONE
    switch (typeof v) {
      case "boolean":
        return out.op(v ? 0x88 : 0x89);
      case "bigint":
        return int(v);
      case "number":
        return float(v);
      case "string":
        return str(v);
    }
    if (v instanceof TorchTensor) return tensor(v);
    if (v instanceof Uint8Array) {
      // Protocol 2 has no bytes opcode: Python writes _codecs.encode(latin-1 text, "latin1").
      global("_codecs", "encode");
      let s = "";
      for (let i = 0; i < v.length; i += 0x8000) {
        s += String.fromCharCode(...v.subarray(i, i + 0x8000));
      }
      tuple([() => str(s), () => str("latin1")]);
      return out.op(0x52);
    }
    if (typeof v !== "object" || v === undefined) {
      throw new TypeError(
        `Cannot write a torch pickle: ${path} is ${
          v === undefined ? "undefined" : typeof v
        }, which has no Python counterpart (see PyValue)`,
      );
    }
    if (open.has(v)) {
      throw new TypeError(`Cannot write a torch pickle: ${path} contains itself (a cycle)`);
    }
    open.add(v);
    if (v instanceof PyTuple) {
      tuple(v.items.map((x, i) => () => write(x, `${path}[${i}]`)));
    } else if (Array.isArray(v)) {
      out.op(0x5d); // EMPTY_LIST
      let i = 0;
      batches(v, 0x61, 0x65, (x) => write(x, `${path}[${i++}]`)); // APPEND / APPENDS
    } else if (v instanceof Set) {
      global("builtins", "set");
      tuple([() => write([...v], `${path}{}`)]);
      out.op(0x52);
    } else if (v instanceof Map) {
      if (v instanceof PyOrderedDict) {
        global("collections", "OrderedDict");
        out.op(0x29, 0x52);
      } else {
        out.op(0x7d); // EMPTY_DICT
      }
      const entries = [...v.entries()];
      batches(entries, 0x73, 0x75, ([k, x]) => { // SETITEM / SETITEMS
        write(k, `${path} key`);
        write(x, `${path}[${typeof k === "string" ? JSON.stringify(k) : String(k)}]`);
      });
      if (v instanceof PyOrderedDict && v.attributes.size > 0) {
        write(new Map(v.attributes), `${path} attributes`);
        out.op(0x62); // BUILD
      }
    } else {
      throw new TypeError(
        `Cannot write a torch pickle: ${path} is a ${
          (v as object).constructor?.name ?? "object"
        }, which has no Python counterpart (see PyValue)`,
      );
    }
    open.delete(v);
  };

  out.op(0x80, 2); // PROTO 2
  write(value, "the value");
  out.op(0x2e); // STOP
  return { pickle: out.result(), storages };
}
