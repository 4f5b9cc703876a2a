// The allowlist of globals, checked when GLOBAL or STACK_GLOBAL is read: what torch's
// weights-only unpickler allows and this reader implements, what it allows that this reader
// refuses by name, and the message for everything else. Nothing is imported or called here.
import { TORCH_DTYPE_NAMES, TORCH_DTYPES, type TorchDtype } from "./torch_tensor.ts";
import { Global } from "./_pickle_items.ts";
import type { Fail } from "./_pickle_reader.ts";

/** Storage classes (`torch.FloatStorage`, ...) by dtype, and the `torch.<dtype>` objects. */
export const STORAGE_DTYPES = new Map<string, TorchDtype | "untyped">([
  ...TORCH_DTYPE_NAMES.map((d) => [`torch.${TORCH_DTYPES[d].storage}`, d] as const),
  ["torch.UntypedStorage", "untyped"],
]);
export const DTYPE_OBJECTS = new Map<string, TorchDtype>([
  ...TORCH_DTYPE_NAMES.map((d) => [`torch.${d}`, d] as const),
  ["torch.float", "float32"],
  ["torch.double", "float64"],
  ["torch.half", "float16"],
  ["torch.long", "int64"],
  ["torch.int", "int32"],
  ["torch.short", "int16"],
]);

/** The functions that rebuild a tensor (or a parameter) from a storage. */
export const TENSOR_REBUILDERS = new Set([
  "torch._utils._rebuild_tensor",
  "torch._utils._rebuild_tensor_v2",
  "torch._utils._rebuild_tensor_v3",
  "torch._utils._rebuild_parameter",
  "torch._utils._rebuild_parameter_with_state",
]);
/** The `pathlib` classes read as strings. */
export const PATH_CLASSES = new Set([
  "PosixPath",
  "WindowsPath",
  "PurePosixPath",
  "PureWindowsPath",
  "Path",
]);

/** Globals this reader implements (beside storage classes and dtype objects). */
const ALLOWED = new Set([
  ...TENSOR_REBUILDERS,
  "torch._tensor._rebuild_from_type_v2",
  "torch.Tensor",
  "torch.nn.parameter.Parameter",
  "torch.Size",
  "torch.device",
  "collections.OrderedDict",
  "collections.Counter",
  "builtins.set",
  "builtins.bytearray",
  "_codecs.encode",
  ...[...PATH_CLASSES].map((c) => `pathlib.${c}`),
  "numpy.core.multiarray.scalar",
  "numpy._core.multiarray.scalar",
  "numpy.dtype",
]);

/** Globals torch's weights_only loader allows that this reader does not implement. */
const TORCH_ONLY = new Map([
  ["torch._utils._rebuild_qtensor", "quantized tensors"],
  ["torch._utils._rebuild_sparse_tensor", "sparse tensors"],
  ["torch._utils._rebuild_meta_tensor_no_storage", "meta tensors"],
  ["torch._utils._rebuild_wrapper_subclass", "tensor subclasses"],
  ["torch._utils._rebuild_nested_tensor", "nested tensors"],
  ["torch._utils._rebuild_device_tensor_from_numpy", "device tensors saved from numpy"],
  ["torch._utils._rebuild_device_tensor_from_cpu_tensor", "device tensors"],
  ["torch.serialization._get_layout", "tensor layouts"],
  ["builtins.complex", "complex numbers"],
]);

/** Python 2 module names a protocol-2 pickle may use (pickle's fix_imports). */
const MODULE_ALIASES: Record<string, string> = { __builtin__: "builtins", copy_reg: "copyreg" };

/** What a checkpoint may hold, for the messages that refuse a global or an opcode. */
export const WHAT_IS_ALLOWED = "a checkpoint may only hold tensors, dicts, OrderedDicts, lists, " +
  "tuples, sets, numbers, strings, bytes and paths (the rules of torch.load(weights_only=True))";

/**
 * The global `module.name` if the allowlist holds it; otherwise fails, naming it (and what is
 * refused by name).
 */
export function checkGlobal(module: string, name: string, fail: Fail): Global {
  const mod = Object.hasOwn(MODULE_ALIASES, module) ? MODULE_ALIASES[module] : module;
  const path = `${mod}.${name}`;
  if (ALLOWED.has(path) || STORAGE_DTYPES.has(path) || DTYPE_OBJECTS.has(path)) {
    return new Global(path);
  }
  const unsupported = TORCH_ONLY.get(path);
  if (unsupported) {
    fail(
      `global ${path} (${unsupported}) is not supported: only dense tensors of dtype ` +
        `${TORCH_DTYPE_NAMES.join(", ")}`,
      { global: path },
    );
  }
  return fail(
    `global ${path} is not allowed: ${WHAT_IS_ALLOWED}; the file may be malicious, and ` +
      "nothing in it was run",
    { global: path },
  );
}
