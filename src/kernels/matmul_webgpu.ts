/**
 * `matMulWebGpu()`: the register-tiled WebGPU matmul of `_matmul_program.ts` behind a
 * `tf.matMul`-like call, with tf.matMul as the fallback for shapes it does not take.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { intUniforms, isWebGpuBackendActive, runProgram } from "./_webgpu_program.ts";
import { matMulAligned, MatMulProgram } from "./_matmul_program.ts";

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
 * On the webgpu backend, when K and N (and M, with `a` transposed) are multiples of 4,
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
  a: tf.Tensor,
  b: tf.Tensor,
  options: MatMulWebGpuOptions = {},
): tf.Tensor {
  const { transposeA = false, transposeB = false, bias } = options;
  if (a.rank !== b.rank || (a.rank !== 2 && a.rank !== 3)) {
    throw new RangeError(
      `Cannot multiply matrices of shapes [${a.shape}] and [${b.shape}]: expected two rank-2 or two rank-3 tensors`,
    );
  }
  const batched = a.rank === 3;
  const batch = batched ? a.shape[0] : 1;
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const [m, k] = transposeA ? [ac, ar] : [ar, ac];
  const [k2, n] = transposeB ? [bc, br] : [br, bc];
  if (k !== k2 || (batched && b.shape[0] !== batch) || (bias && bias.size !== n)) {
    throw new RangeError(
      `Cannot multiply matrices of shapes [${a.shape}]${transposeA ? "^T" : ""} and [${b.shape}]${
        transposeB ? "^T" : ""
      }${bias ? ` with bias [${bias.shape}]` : ""}: inner sizes, batch or bias length disagree`,
    );
  }
  if (!isWebGpuBackendActive() || !matMulAligned(m, k, n, transposeA)) {
    return bias
      ? tf.fused.matMul({ a, b, transposeA, transposeB, bias })
      : tf.matMul(a, b, transposeA, transposeB);
  }
  const program = new MatMulProgram(batch, m, k, n, transposeA, transposeB, bias !== undefined);
  const flat = runProgram(program, bias ? [a, b, bias] : [a, b], intUniforms(m, k, n));
  return tf.reshape(flat, batched ? [batch, m, n] : [m, n]);
}
