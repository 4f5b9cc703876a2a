/**
 * AdamW (decoupled weight decay) with state that checkpoints can save and restore.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Hyper-parameters of {@link AdamW}; defaults are PyTorch's. */
export interface AdamWOptions {
  readonly beta1?: number;
  readonly beta2?: number;
  readonly eps?: number;
  readonly weightDecay?: number;
}

/** AdamW state on the host: step count and both moments per variable name. */
export interface AdamWState {
  readonly step: number;
  readonly m: Record<string, Float32Array>;
  readonly v: Record<string, Float32Array>;
}

/** A variable to optimise and its name (checkpoint key). */
export interface OptimizedVariable {
  readonly name: string;
  readonly variable: tf.Variable;
  /**
   * How many PyTorch parameters with the same gradient this variable is the sum of
   * (default 1). Our LSTM bias is PyTorch's `bias_ih + bias_hh`: torch's AdamW updates each
   * of the two, so their sum moves by two Adam steps per update (weight decay scales the sum
   * once), and `clip_grad_norm_` counts the gradient twice. `copies: 2` does exactly that,
   * so training matches torch's on the same weights and optimizer state.
   */
  readonly copies?: number;
}

/**
 * PyTorch's `torch.optim.AdamW`: `p -= lr*wd*p`, then Adam with bias-corrected moments
 * `p -= c * lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)`, with `c` the variable's
 * `copies` (1 unless it stands for several PyTorch parameters).
 */
export class AdamW {
  /** Number of updates applied so far. */
  step = 0;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly #vars: readonly OptimizedVariable[];
  readonly #m: tf.Variable[];
  readonly #v: tf.Variable[];

  /** Creates zero moments for every variable. */
  constructor(variables: readonly OptimizedVariable[], options: AdamWOptions = {}) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 1e-2;
    this.#vars = variables;
    // tidy: tf.variable() keeps its own reference, so the zeros would otherwise leak.
    const zeros = (p: tf.Variable) => tf.tidy(() => tf.variable(tf.zerosLike(p), false));
    this.#m = variables.map(({ variable }) => zeros(variable));
    this.#v = variables.map(({ variable }) => zeros(variable));
  }

  /** Applies one update with `grads` in the order of the variables. */
  applyGradients(grads: readonly tf.Tensor[], lr: number): void {
    if (grads.length !== this.#vars.length) {
      throw new RangeError(
        `Cannot apply AdamW: expected ${this.#vars.length} gradients, received ${grads.length}`,
      );
    }
    this.step++;
    const t = this.step;
    const stepSize = lr / (1 - this.beta1 ** t);
    const sqrtBc2 = Math.sqrt(1 - this.beta2 ** t);
    tf.tidy(() => {
      this.#vars.forEach(({ variable: p }, i) => {
        const g = grads[i];
        const m = tf.add(tf.mul(this.#m[i], this.beta1), tf.mul(g, 1 - this.beta1));
        const v = tf.add(tf.mul(this.#v[i], this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        const decayed = this.weightDecay > 0 ? tf.mul(p, 1 - lr * this.weightDecay) : p;
        const denom = tf.add(tf.div(tf.sqrt(v), sqrtBc2), this.eps);
        const copies = this.#vars[i].copies ?? 1;
        p.assign(tf.sub(decayed, tf.mul(tf.div(m, denom), stepSize * copies)));
        this.#m[i].assign(m);
        this.#v[i].assign(v);
      });
    });
  }

  /** Reads the state back to the host (for checkpoints). */
  async getState(): Promise<AdamWState> {
    const m: Record<string, Float32Array> = {};
    const v: Record<string, Float32Array> = {};
    for (let i = 0; i < this.#vars.length; i++) {
      m[this.#vars[i].name] = (await this.#m[i].data()) as Float32Array;
      v[this.#vars[i].name] = (await this.#v[i].data()) as Float32Array;
    }
    return { step: this.step, m, v };
  }

  /** Restores {@link AdamW.getState}'s output; names and sizes must match. */
  setState(state: AdamWState): void {
    this.#vars.forEach(({ name, variable }, i) => {
      for (
        const [key, moments, target] of [["m", state.m, this.#m[i]], [
          "v",
          state.v,
          this.#v[i],
        ]] as const
      ) {
        const data = moments[name];
        if (!data || data.length !== variable.size) {
          throw new RangeError(
            `Cannot restore AdamW state: ${key} for "${name}" expected ${variable.size} values, received ${
              data ? data.length : "none"
            }`,
          );
        }
        tf.tidy(() => target.assign(tf.tensor(data, variable.shape, "float32")));
      }
    });
    this.step = state.step;
  }

  /** Disposes the moments. */
  dispose(): void {
    for (const t of [...this.#m, ...this.#v]) t.dispose();
  }
}
