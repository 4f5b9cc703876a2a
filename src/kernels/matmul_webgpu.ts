/**
 * `matMulWebGpu()`: the register-tiled WebGPU matmul of `_matmul_program.ts` behind a
 * `tf.matMul`-like call, with tf.matMul as the fallback for shapes it does not take.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { intUniforms, isWebGpuBackendActive, runProgram } from "./_webgpu_program.ts";
import { matMulAligned, MatMulProgram } from "./_matmul_program.ts";

/**
 * A row-major matrix, or batch of matrices, stored in a flat tensor from element `offset`:
 * lets a product read a region of a packed kernel output without copying it out first.
 */
export interface MatrixView {
  readonly tensor: tf.Tensor;
  readonly offset: number;
  readonly shape: readonly [number, number] | readonly [number, number, number];
}

/** Options of {@link matMulWebGpu}. */
export interface MatMulWebGpuOptions {
  /** Multiply by the transpose of `a` (its last two axes). */
  readonly transposeA?: boolean;
  /** Multiply by the transpose of `b` (its last two axes). */
  readonly transposeB?: boolean;
  /** Added to every row of the product: shape [N]. */
  readonly bias?: tf.Tensor1D;
}

/**
 * The product of two rank-2 (or two equally batched rank-3) float32 tensors, like
 * `tf.matMul(a, b, transposeA, transposeB)` plus an optional bias row.
 *
 * Either operand may be a {@link MatrixView} into a larger tensor. On the webgpu backend,
 * when K and N (and M, with `a` transposed) and the view offsets are multiples of 4,
 * this runs one dispatch of a kernel built for CPU-like adapters (see
 * `_matmul_program.ts`); otherwise, and on other backends, it is `tf.matMul` /
 * `tf.fused.matMul`. It records no gradient: it is meant for the inside of custom-gradient
 * ops (the LSTM layer's forward and backward passes).
 *
 * @example
 * ```ts
 * const dK = matMulWebGpu(x, dz, { transposeA: true }); // x^T dz
 * ```
 */
export function matMulWebGpu(
  a: tf.Tensor | MatrixView,
  b: tf.Tensor | MatrixView,
  options: MatMulWebGpuOptions = {},
): tf.Tensor {
  const { transposeA = false, transposeB = false, bias } = options;
  const va = asView(a);
  const vb = asView(b);
  const [as, bs] = [va.shape, vb.shape];
  if (as.length !== bs.length || (as.length !== 2 && as.length !== 3)) {
    throw new RangeError(
      `Cannot multiply matrices of shapes [${as}] and [${bs}]: expected two rank-2 or two rank-3 operands`,
    );
  }
  const batched = as.length === 3;
  const batch = batched ? as[0] : 1;
  const [ar, ac] = as.slice(-2);
  const [br, bc] = bs.slice(-2);
  const [m, k] = transposeA ? [ac, ar] : [ar, ac];
  const [k2, n] = transposeB ? [bc, br] : [br, bc];
  if (k !== k2 || (batched && bs[0] !== batch) || (bias && bias.size !== n)) {
    throw new RangeError(
      `Cannot multiply matrices of shapes [${as}]${transposeA ? "^T" : ""} and [${bs}]${
        transposeB ? "^T" : ""
      }${bias ? ` with bias [${bias.shape}]` : ""}: inner sizes, batch or bias length disagree`,
    );
  }
  for (const v of [va, vb]) {
    if (!Number.isInteger(v.offset) || v.offset < 0 || v.offset + size(v) > v.tensor.size) {
      throw new RangeError(
        `Cannot multiply a view of shape [${v.shape}] at offset ${v.offset} of a tensor of ${v.tensor.size} elements: the region must lie inside the tensor`,
      );
    }
  }
  const vec4Offsets = va.offset % 4 === 0 && vb.offset % 4 === 0;
  if (!isWebGpuBackendActive() || !vec4Offsets || !matMulAligned(m, k, n, transposeA)) {
    const [x, y] = [materialize(va), materialize(vb)];
    return bias
      ? tf.fused.matMul({ a: x, b: y, transposeA, transposeB, bias })
      : tf.matMul(x, y, transposeA, transposeB);
  }
  const program = new MatMulProgram(batch, m, k, n, transposeA, transposeB, bias !== undefined);
  const inputs = [va.tensor, vb.tensor, ...(bias ? [bias] : [])];
  const uniforms = intUniforms(m, k, n, va.offset / 4, vb.offset / 4);
  const flat = runProgram(program, inputs, uniforms);
  return tf.reshape(flat, batched ? [batch, m, n] : [m, n]);
}

function asView(t: tf.Tensor | MatrixView): MatrixView {
  if (!(t instanceof tf.Tensor)) return t;
  if (t.rank !== 2 && t.rank !== 3) {
    throw new RangeError(
      `Cannot multiply a tensor of shape [${t.shape}]: expected rank 2 or 3`,
    );
  }
  return { tensor: t, offset: 0, shape: t.shape as [number, number] };
}

const size = (v: MatrixView) => v.shape.reduce((p, d) => p * d, 1);

function materialize(v: MatrixView): tf.Tensor {
  if (v.offset === 0 && v.tensor.size === size(v)) return tf.reshape(v.tensor, [...v.shape]);
  return tf.reshape(tf.slice(tf.reshape(v.tensor, [-1]), [v.offset], [size(v)]), [...v.shape]);
}
