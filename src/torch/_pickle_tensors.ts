// Tensors from storage records: a persistent id resolved to its storage record (read once,
// copied, its size checked), and the dense copy of a strided view over it, checked against the
// storage's bounds, its dtype and the element limit; with the checks of a tensor's hooks and
// metadata that the rebuild functions pass.
import { numelOf, TORCH_DTYPES, type TorchDtype, TorchTensor } from "./torch_tensor.ts";
import { describe, Global, type Item, type ItemChecks, StorageRef } from "./_pickle_items.ts";
import { STORAGE_DTYPES } from "./_pickle_globals.ts";

/** The unpickler's `storage`, `byteorder` and `maxElements` options (the last resolved). */
export interface TensorSource {
  readonly storage?: (key: string) => Uint8Array | undefined;
  readonly byteorder?: "little" | "big";
  readonly maxElements: number;
}

/** The storage and tensor rebuilding of one unpickling (see {@link tensorRebuilder}). */
export type TensorRebuilder = ReturnType<typeof tensorRebuilder>;

/**
 * The tensor rebuilding of one unpickling: it keeps the storages read so far and the running
 * count of elements, checked against `source.maxElements`.
 */
export function tensorRebuilder(source: TensorSource, checks: ItemChecks) {
  const { fail, tuple, int, str } = checks;
  const { maxElements } = source;
  let elements = 0;
  const storages = new Map<string, Uint8Array>();

  const storageBytes = (key: string): Uint8Array => {
    const known = storages.get(key);
    if (known) return known;
    if (!source.storage) {
      fail(`the pickle references storage data/${key}, but no records were given`);
    }
    const raw = source.storage!(key);
    if (!raw) fail(`the storage record data/${key} is missing from the archive`);
    const copy = raw!.slice(); // aligned for typed arrays, and private
    storages.set(key, copy);
    return copy;
  };

  /** What BINPERSID makes of a persistent id: only `("storage", type, key, location, numel)`. */
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
    if (source.byteorder === "big" && spec.size > 1) {
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

  /** Fails unless a tensor's backward hooks are an empty dict. */
  const checkHooks = (hooks: Item) => {
    if (!(hooks instanceof Map) || hooks.size > 0) {
      fail(`a tensor's backward hooks must be an empty OrderedDict, found ${describe(hooks)}`);
    }
  };
  /** Fails unless a tensor's metadata is absent or all false (no negative/conjugate views). */
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
  /** `v` if it is a tensor, else fails naming `what`. */
  const asTensor = (v: Item, what: string): TorchTensor => {
    if (!(v instanceof TorchTensor)) fail(`${what} must be a tensor, found ${describe(v)}`);
    return v as TorchTensor;
  };
  return { persistentLoad, rebuildTensor, checkHooks, checkMetadata, asTensor };
}
