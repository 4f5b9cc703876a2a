/**
 * The one place that decides which code runs an LSTM layer, used by the model
 * (`lstmLayer`), the CLI's training log and the browser page.
 *
 * `--lstm-impl fused` (the default) picks, by backend and hidden size:
 * - `webgpu`: the WebGPU kernels (persistent recurrence programs) on the webgpu backend,
 *   hidden sizes 1..256;
 * - `cpu`: the CPU kernels (WebAssembly SIMD on every core) on wasm and cpu;
 * - `tf-ops`: the generic fused op built from tf ops, where neither applies (webgpu with a
 *   hidden size above 256, or an engine without WebAssembly SIMD).
 * `--lstm-impl layers` is the tf.layers reference everywhere.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  cpuKernelsAvailable,
  cpuKernelThreads,
  LSTM_MAX_HIDDEN_WEBGPU,
  webgpuLstmSupportsHidden,
} from "../kernels/mod.ts";
import type { LstmImpl } from "./model_settings.ts";

/** The values `--lstm-impl` accepts, in order. */
export const LSTM_IMPLS: readonly LstmImpl[] = Object.freeze(["fused", "layers"]);

/** The code that runs a layer. */
export type LstmKernel = "webgpu" | "cpu" | "tf-ops" | "layers";

/** What {@link chooseLstmKernel} decided, and why. */
export interface LstmKernelChoice {
  readonly kernel: LstmKernel;
  /** One line for logs and the page. */
  readonly description: string;
}

/**
 * Chooses the code that runs an LSTM layer of `hidden` units for `impl` on `backend` (the
 * active tfjs backend by default).
 *
 * @example
 * ```ts
 * chooseLstmKernel("fused", 128, "wasm").kernel; // "cpu"
 * ```
 */
export function chooseLstmKernel(
  impl: LstmImpl,
  hidden: number,
  backend: string = tf.getBackend(),
): LstmKernelChoice {
  if (impl === "layers") {
    return { kernel: "layers", description: "tf.layers reference LSTM (--lstm-impl layers)" };
  }
  if (impl !== "fused") {
    throw new RangeError(
      `Cannot run the LSTM layer with impl ${JSON.stringify(impl)}: expected one of ${
        LSTM_IMPLS.join(", ")
      }`,
    );
  }
  if (backend === "webgpu") {
    if (webgpuLstmSupportsHidden(hidden)) {
      return {
        kernel: "webgpu",
        description: "fused WebGPU LSTM kernels (src/kernels)",
      };
    }
    return {
      kernel: "tf-ops",
      description: `generic fused LSTM op from tf ops (the WebGPU kernels take hidden sizes ` +
        `1..${LSTM_MAX_HIDDEN_WEBGPU}, not ${hidden})`,
    };
  }
  if (cpuKernelsAvailable()) {
    const threads = cpuKernelThreads();
    return {
      kernel: "cpu",
      description: `CPU LSTM kernels (src/kernels, WebAssembly SIMD) on ${threads} thread${
        threads === 1 ? "" : "s"
      }`,
    };
  }
  return {
    kernel: "tf-ops",
    description: "generic fused LSTM op from tf ops (this engine lacks WebAssembly SIMD)",
  };
}
