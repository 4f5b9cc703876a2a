/**
 * The optimizer the training loop uses: the fused WebGPU AdamW on the webgpu backend
 * (2 dispatches per tensor), the tf-op {@link AdamW} elsewhere. Both read and write the same
 * {@link AdamWState}, so checkpoints move freely between backends.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { AdamWWebGpu } from "../kernels/adamw_webgpu.ts";
import { AdamW, type AdamWOptions, type AdamWState, type OptimizedVariable } from "./adamw.ts";

/** What `train()` needs of an optimizer: {@link AdamW}'s interface. */
export interface TrainOptimizer {
  /** Number of updates applied so far. */
  readonly step: number;
  /** Applies one update with `grads` in the order of the variables. */
  applyGradients(grads: readonly tf.Tensor[], lr: number): void;
  /** Reads the state back to the host (for checkpoints). */
  getState(): Promise<AdamWState>;
  /** Restores {@link TrainOptimizer.getState}'s output (from either backend). */
  setState(state: AdamWState): void;
  /** Frees the moments. */
  dispose(): void;
}

/**
 * AdamW for `variables`: the fused WebGPU kernel when `tf.getBackend() === "webgpu"`,
 * otherwise the tf-op {@link AdamW}. Same formula (torch.optim.AdamW), same checkpoint state.
 */
export function createOptimizer(
  variables: readonly OptimizedVariable[],
  options: AdamWOptions = {},
): TrainOptimizer {
  return tf.getBackend() === "webgpu"
    ? new FusedAdamW(variables, options)
    : new AdamW(variables, options);
}

/** {@link AdamWWebGpu} behind AdamW's named-state interface. */
class FusedAdamW implements TrainOptimizer {
  readonly #names: readonly string[];
  readonly #sizes: readonly number[];
  readonly #opt: AdamWWebGpu;

  constructor(variables: readonly OptimizedVariable[], options: AdamWOptions) {
    this.#names = variables.map((v) => v.name);
    this.#sizes = variables.map((v) => v.variable.size);
    this.#opt = new AdamWWebGpu(variables.map((v) => v.variable), options);
  }

  get step(): number {
    return this.#opt.step;
  }

  applyGradients(grads: readonly tf.Tensor[], lr: number): void {
    this.#opt.applyGradients(grads, lr);
  }

  async getState(): Promise<AdamWState> {
    const moments = await this.#opt.readMoments();
    const m: Record<string, Float32Array> = {};
    const v: Record<string, Float32Array> = {};
    this.#names.forEach((name, i) => {
      m[name] = moments.m[i];
      v[name] = moments.v[i];
    });
    return { step: this.#opt.step, m, v };
  }

  setState(state: AdamWState): void {
    const pick = (key: "m" | "v") =>
      this.#names.map((name, i) => {
        const data = state[key][name];
        if (!data || data.length !== this.#sizes[i]) {
          throw new RangeError(
            `Cannot restore AdamW state: ${key} for "${name}" expected ${
              this.#sizes[i]
            } values, received ${data ? data.length : "none"}`,
          );
        }
        return data;
      });
    this.#opt.restoreMoments(state.step, pick("m"), pick("v"));
  }

  dispose(): void {
    this.#opt.dispose();
  }
}
