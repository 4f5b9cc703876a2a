/**
 * `TorchTensor`: a dense, contiguous (row-major), host-side tensor read from or written to a
 * torch checkpoint, and its dtypes.
 *
 * @module
 */
import { halfToFloat } from "../npz/float16.ts";

/** The dtypes this toolkit reads and writes (`torch.<dtype>`). */
export type TorchDtype =
  | "float64"
  | "float32"
  | "float16"
  | "bfloat16"
  | "int64"
  | "int32"
  | "int16"
  | "int8"
  | "uint8"
  | "bool";

/**
 * Element storage per dtype: float16 and bfloat16 keep their raw 16-bit patterns
 * (`Uint16Array`; see {@link torchTensorToFloat32}), bool is one byte per element (0 or 1).
 */
export type TorchTensorData =
  | Float64Array
  | Float32Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

interface DtypeSpec {
  /** Bytes per element. */
  readonly size: number;
  /** The legacy typed-storage class torch pickles for it (`torch.FloatStorage`). */
  readonly storage: string;
  // deno-lint-ignore no-explicit-any
  readonly ctor: any;
}

/** Per dtype: element size, torch storage class name, typed array. */
export const TORCH_DTYPES: Readonly<Record<TorchDtype, DtypeSpec>> = Object.freeze({
  float64: { size: 8, storage: "DoubleStorage", ctor: Float64Array },
  float32: { size: 4, storage: "FloatStorage", ctor: Float32Array },
  float16: { size: 2, storage: "HalfStorage", ctor: Uint16Array },
  bfloat16: { size: 2, storage: "BFloat16Storage", ctor: Uint16Array },
  int64: { size: 8, storage: "LongStorage", ctor: BigInt64Array },
  int32: { size: 4, storage: "IntStorage", ctor: Int32Array },
  int16: { size: 2, storage: "ShortStorage", ctor: Int16Array },
  int8: { size: 1, storage: "CharStorage", ctor: Int8Array },
  uint8: { size: 1, storage: "ByteStorage", ctor: Uint8Array },
  bool: { size: 1, storage: "BoolStorage", ctor: Uint8Array },
});

/** The dtype names, for messages. */
export const TORCH_DTYPE_NAMES: readonly TorchDtype[] = Object.freeze(
  Object.keys(TORCH_DTYPES) as TorchDtype[],
);

/** Number of elements of `shape` (1 for a scalar). */
export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A dense tensor: `data` holds `shape`'s elements in row-major order. */
export class TorchTensor {
  readonly dtype: TorchDtype;
  readonly shape: readonly number[];
  readonly data: TorchTensorData;
  /** `requires_grad` as pickled (an `nn.Parameter`'s is true). */
  readonly requiresGrad: boolean;

  /**
   * @throws {TypeError} when `data` is not the dtype's typed array.
   * @throws {RangeError} when `shape` is not non-negative integers holding `data.length`.
   */
  constructor(
    dtype: TorchDtype,
    shape: readonly number[],
    data: TorchTensorData,
    requiresGrad = false,
  ) {
    const spec = TORCH_DTYPES[dtype];
    if (!spec) {
      throw new TypeError(
        `Cannot create a torch tensor: dtype ${JSON.stringify(dtype)} is not one of ${
          TORCH_DTYPE_NAMES.join(", ")
        }`,
      );
    }
    if (!(data instanceof spec.ctor)) {
      throw new TypeError(
        `Cannot create a torch tensor: dtype ${dtype} needs a ${spec.ctor.name}, received ${data?.constructor?.name}`,
      );
    }
    if (shape.some((d) => !Number.isInteger(d) || d < 0) || numelOf(shape) !== data.length) {
      throw new RangeError(
        `Cannot create a torch tensor: shape [${shape}] holds ${
          numelOf(shape)
        } elements, data has ${data.length}`,
      );
    }
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.data = data;
    this.requiresGrad = requiresGrad;
  }
}

/** A float32 tensor of `shape` holding `data`. */
export function float32Tensor(shape: readonly number[], data: Float32Array): TorchTensor {
  return new TorchTensor("float32", shape, data);
}

/**
 * The values of a floating-point tensor as float32 (float64 rounded to nearest, float16 and
 * bfloat16 widened exactly).
 *
 * @throws {TypeError} for an integer or bool tensor.
 */
export function torchTensorToFloat32(t: TorchTensor): Float32Array {
  switch (t.dtype) {
    case "float32":
      return t.data as Float32Array;
    case "float64":
      return Float32Array.from(t.data as Float64Array);
    case "float16":
      return Float32Array.from(t.data as Uint16Array, halfToFloat);
    case "bfloat16": {
      const out = new Float32Array(t.data.length);
      const bits = new Uint32Array(out.buffer);
      const src = t.data as Uint16Array;
      for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
      return out;
    }
    default:
      throw new TypeError(
        `Cannot read a ${t.dtype} tensor as float32: expected float32, float64, float16 or bfloat16`,
      );
  }
}
