/**
 * A fused AdamW update on WebGPU: one program per parameter tensor computes the new
 * parameter and both moments in a single pass (tfjs' op-by-op AdamW costs ~10 dispatches
 * per tensor; this costs 2: the update and the slice that becomes the new parameter).
 *
 * Same formula as PyTorch's `torch.optim.AdamW` (and `src/train/adamw.ts`):
 * `p = p * (1 - lr*wd) - lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  floatUniforms,
  intUniforms,
  isWebGpuBackendActive,
  runProgram,
  type WebGpuProgramLike,
} from "./_webgpu_program.ts";

const WORKGROUP = 64;

class AdamWProgram implements WebGpuProgramLike {
  variableNames = ["W", "G", "S"];
  outputShape: number[];
  shaderKey = "adamw_fused";
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  uniforms =
    "n : i32, beta1 : f32, oneMinusBeta1 : f32, beta2 : f32, oneMinusBeta2 : f32, eps : f32, decay : f32, stepSize : f32, sqrtBc2 : f32,";

  constructor(n: number) {
    this.outputShape = [3 * n];
    this.dispatch = [Math.ceil(n / WORKGROUP), 1, 1];
  }

  getUserCode(): string {
    return `
fn main(index : i32) {
  let n = uniforms.n;
  if (index >= n) { return; }
  let g = G[index];
  let m = uniforms.beta1 * S[n + index] + uniforms.oneMinusBeta1 * g;
  let v = uniforms.beta2 * S[2 * n + index] + uniforms.oneMinusBeta2 * g * g;
  let denom = sqrt(v) / uniforms.sqrtBc2 + uniforms.eps;
  result[index] = W[index] * uniforms.decay - uniforms.stepSize * m / denom;
  result[n + index] = m;
  result[2 * n + index] = v;
}
`;
  }
}

/** Hyper-parameters of one {@link adamwStepWebGpu} call. */
export interface AdamWStepHyper {
  readonly lr: number;
  /** 1-based update count (bias correction). */
  readonly step: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
}

/**
 * One fused AdamW update of `param` on WebGPU. `state` is the previous return value (or
 * `tf.zeros([3 * param.size])` at the start): a packed `[p | m | v]` buffer. Assigns the
 * new value to `param` and returns the new state (kept: it survives an enclosing
 * `tf.tidy`); the caller disposes the old one.
 *
 * @example
 * ```ts
 * let state = tf.zeros([3 * p.size]);
 * const next = adamwStepWebGpu(p, grad, state, { lr: 1e-3, step: 1, beta1: 0.9,
 *   beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
 * state.dispose(); state = next;
 * ```
 */
export function adamwStepWebGpu(
  param: tf.Variable,
  grad: tf.Tensor,
  state: tf.Tensor,
  hyper: AdamWStepHyper,
): tf.Tensor {
  const n = param.size;
  if (grad.size !== n || state.size !== 3 * n) {
    throw new RangeError(
      `Cannot apply the fused AdamW step to ${param.name}: expected grad of ${n} and state of ${
        3 * n
      } elements, received ${grad.size} and ${state.size}`,
    );
  }
  const t = hyper.step;
  const uniforms = [
    ...intUniforms(n),
    ...floatUniforms(
      // 1 - beta is computed in float64: 1 - f32(0.999) is 1.3e-5 off.
      hyper.beta1,
      1 - hyper.beta1,
      hyper.beta2,
      1 - hyper.beta2,
      hyper.eps,
      1 - hyper.lr * hyper.weightDecay,
      hyper.lr / (1 - hyper.beta1 ** t),
      Math.sqrt(1 - hyper.beta2 ** t),
    ),
  ];
  return tf.tidy(() => {
    const g = grad.dtype === "float32" ? grad : tf.cast(grad, "float32");
    const out = runProgram(new AdamWProgram(n), [param, g, state], uniforms);
    param.assign(tf.reshape(tf.slice(out, [0], [n]), param.shape));
    // Kept: the state must outlive any tidy() the training step runs in.
    return tf.keep(out);
  });
}

/** Options of {@link AdamWWebGpu}; defaults are PyTorch's. */
export interface AdamWWebGpuOptions {
  readonly beta1?: number;
  readonly beta2?: number;
  readonly eps?: number;
  readonly weightDecay?: number;
}

/**
 * AdamW over a list of variables with the fused WebGPU update: 2 dispatches per tensor.
 * Drop-in for `src/train/adamw.ts`'s `applyGradients(grads, lr)` on the webgpu backend.
 *
 * @example
 * ```ts
 * const opt = new AdamWWebGpu(model.namedVariables.map((v) => v.variable));
 * const { grads } = tf.variableGrads(lossFn, vars);
 * opt.applyGradients(vars.map((v) => grads[v.name]), 1e-3);
 * ```
 */
export class AdamWWebGpu {
  /** Updates applied so far. */
  step = 0;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly #vars: readonly tf.Variable[];
  #state: tf.Tensor[];

  /** Creates zero moments for every variable (on the active webgpu backend). */
  constructor(variables: readonly tf.Variable[], options: AdamWWebGpuOptions = {}) {
    if (!isWebGpuBackendActive()) {
      throw new Error(
        `Cannot create AdamWWebGpu: the active tfjs backend is ${
          JSON.stringify(tf.getBackend())
        }, expected "webgpu"; use the tf-ops AdamW on other backends`,
      );
    }
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 1e-2;
    this.#vars = variables;
    this.#state = variables.map((v) => tf.zeros([3 * v.size]));
  }

  /** Applies one update; `grads` in the order of the variables. */
  applyGradients(grads: readonly tf.Tensor[], lr: number): void {
    if (grads.length !== this.#vars.length) {
      throw new RangeError(
        `Cannot apply AdamWWebGpu: expected ${this.#vars.length} gradients, received ${grads.length}`,
      );
    }
    this.step++;
    const hyper = {
      lr,
      step: this.step,
      beta1: this.beta1,
      beta2: this.beta2,
      eps: this.eps,
      weightDecay: this.weightDecay,
    };
    this.#state = this.#vars.map((p, i) => {
      const next = adamwStepWebGpu(p, grads[i], this.#state[i], hyper);
      this.#state[i].dispose();
      return next;
    });
  }

  /** Reads both moments to the host (for checkpoints), in the order of the variables. */
  async readMoments(): Promise<{ m: Float32Array[]; v: Float32Array[] }> {
    const m: Float32Array[] = [];
    const v: Float32Array[] = [];
    for (let i = 0; i < this.#vars.length; i++) {
      const n = this.#vars[i].size;
      const all = (await this.#state[i].data()) as Float32Array;
      m.push(all.slice(n, 2 * n));
      v.push(all.slice(2 * n, 3 * n));
    }
    return { m, v };
  }

  /**
   * Restores the step count and both moments (e.g. from a checkpoint written by
   * {@link AdamWWebGpu.readMoments}), in the order of the variables; sizes must match.
   */
  restoreMoments(step: number, m: readonly Float32Array[], v: readonly Float32Array[]): void {
    if (m.length !== this.#vars.length || v.length !== this.#vars.length) {
      throw new RangeError(
        `Cannot restore AdamWWebGpu moments: expected ${this.#vars.length} m and v arrays, received ${m.length} and ${v.length}`,
      );
    }
    const packed = this.#vars.map((p, i) => {
      const n = p.size;
      if (m[i].length !== n || v[i].length !== n) {
        throw new RangeError(
          `Cannot restore AdamWWebGpu moments of ${p.name}: expected ${n} values each, received m ${
            m[i].length
          } and v ${v[i].length}`,
        );
      }
      const all = new Float32Array(3 * n); // [p | m | v]; the p slot is only written
      all.set(m[i], n);
      all.set(v[i], 2 * n);
      return all;
    });
    // Kept: the state must survive an enclosing tf.tidy().
    const next = packed.map((all) => tf.keep(tf.tensor1d(all, "float32")));
    tf.dispose(this.#state);
    this.#state = next;
    this.step = step;
  }

  /** Frees the optimizer state. */
  dispose(): void {
    tf.dispose(this.#state);
    this.#state = [];
  }
}
