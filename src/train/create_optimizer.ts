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

/**
 * {@link AdamWWebGpu} behind AdamW's named-state interface. Variables with `copies` c > 1
 * go to their own kernel instance run with `lr * c` and weight decay `wd / c`: the decay
 * factor `1 - lr*wd` stays, the Adam step is c times as long (exact: c is a power of two).
 */
class FusedAdamW implements TrainOptimizer {
  readonly #names: readonly string[];
  readonly #sizes: readonly number[];
  readonly #groups: { copies: number; indices: number[]; opt: AdamWWebGpu }[] = [];

  constructor(variables: readonly OptimizedVariable[], options: AdamWOptions) {
    this.#names = variables.map((v) => v.name);
    this.#sizes = variables.map((v) => v.variable.size);
    const byCopies = new Map<number, number[]>();
    variables.forEach((v, i) => {
      const c = v.copies ?? 1;
      byCopies.set(c, [...(byCopies.get(c) ?? []), i]);
    });
    for (const [copies, indices] of byCopies) {
      const opt = new AdamWWebGpu(indices.map((i) => variables[i].variable), {
        ...options,
        weightDecay: (options.weightDecay ?? 1e-2) / copies,
      });
      this.#groups.push({ copies, indices, opt });
    }
  }

  get step(): number {
    return this.#groups[0]?.opt.step ?? 0;
  }

  applyGradients(grads: readonly tf.Tensor[], lr: number): void {
    if (grads.length !== this.#names.length) {
      throw new RangeError(
        `Cannot apply AdamW: expected ${this.#names.length} gradients, received ${grads.length}`,
      );
    }
    for (const g of this.#groups) {
      g.opt.applyGradients(g.indices.map((i) => grads[i]), lr * g.copies);
    }
  }

  async getState(): Promise<AdamWState> {
    const m: Record<string, Float32Array> = {};
    const v: Record<string, Float32Array> = {};
    for (const g of this.#groups) {
      const moments = await g.opt.readMoments();
      g.indices.forEach((i, k) => {
        m[this.#names[i]] = moments.m[k];
        v[this.#names[i]] = moments.v[k];
      });
    }
    return { step: this.step, m, v };
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
    const m = pick("m"), v = pick("v");
    for (const g of this.#groups) {
      g.opt.restoreMoments(state.step, g.indices.map((i) => m[i]), g.indices.map((i) => v[i]));
    }
  }

  dispose(): void {
    for (const g of this.#groups) g.opt.dispose();
  }
}
