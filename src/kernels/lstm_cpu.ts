/**
 * The CPU LSTM layer: a `tf.customGrad` op whose work runs in the CPU kernels
 * (`_cpu_programs.ts`: WebAssembly SIMD on every core the runtime reports). It reads its
 * inputs from any tfjs backend (on wasm and cpu a read is a copy) and returns ordinary
 * tensors; tfjs only runs what is around it (the head, the loss, the optimizer).
 *
 * Per layer, forward: one GEMM for the input projection of every valid (b, t) row and both
 * directions, then the recurrence, split by (direction, group of batch rows) over the
 * threads. Backward: the recurrence in reverse (gate gradients), then the bias, kernel,
 * recurrent and input gradients as GEMMs over the valid rows. Padded (masked) rows are left
 * out of every product: their projections are never read and their gate gradients are zero.
 * Which thread computes what never changes a result: one thread and many give the same bits.
 * The passes are in `_lstm_cpu_forward.ts` and `_lstm_cpu_backward.ts`, what they share in
 * `_lstm_cpu_layout.ts`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  assertLstmLayerShapes,
  type LstmLayerTensors,
  type LstmOp,
  lstmOpArgs,
  lstmOps,
  runLstmOp,
} from "./lstm_shapes.ts";
import type { Dims } from "./_lstm_cpu_layout.ts";
import { forward } from "./_lstm_cpu_forward.ts";

/** Options of {@link lstmLayerCpu}. */
export interface LstmCpuOptions {
  /**
   * Compute the gradient with respect to `x` (default true). False when `x` is data (the
   * first layer): its gradient is then reported as zeros and one GEMM is saved.
   */
  readonly inputGradient?: boolean;
}

function makeOp(dirs: 1 | 2, inputGradient: boolean): LstmOp {
  // deno-lint-ignore no-explicit-any
  return tf.customGrad((...args: any[]) => {
    const { x, mask, weights: ws, save } = lstmOpArgs(args, dirs);
    save(ws);
    const [batch, steps, inSize] = x.shape;
    const hidden = ws[1].shape[0];
    const hp = Math.ceil(hidden / 4) * 4;
    const n: Dims = { batch, steps, inSize, hidden, hp, g: 4 * hp, dirs };
    // Saved values are only needed when a gradient is being recorded.
    const keep = tf.engine().state.gradientDepth > 0;
    const pass = forward(x, mask, ws, n, keep);
    return {
      value: pass.value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => pass.backward(dy, saved, inputGradient),
    };
  }) as unknown as LstmOp;
}

const OPS = lstmOps(makeOp);

/**
 * The CPU implementation of an `LstmLayerFn` (see `src/model/lstm_types.ts`), with the
 * option to skip the input gradient of a data-fed layer. Runs on any tfjs backend; meant for
 * wasm and cpu, where reading a tensor is a copy.
 *
 * @example
 * ```ts
 * const out = lstmLayerCpu(x, mask, layerWeights); // [B, T, dirs * hidden]
 * ```
 */
export function lstmLayerCpu(
  x: tf.Tensor3D,
  mask: tf.Tensor2D,
  weights: LstmLayerTensors,
  options: LstmCpuOptions = {},
): tf.Tensor3D {
  assertLstmLayerShapes(x, mask, weights, "the CPU LSTM layer");
  return runLstmOp(OPS, x, mask, weights, options.inputGradient);
}
