/**
 * The sequence classifier of the data contract: an LSTM stack (optionally bidirectional,
 * dropout between layers), pooling over the valid steps, then the head
 * Linear(-> 128) -> ReLU/dropout -> Linear(128 -> 64) -> ReLU/dropout -> Linear(64 -> K).
 *
 * Two pooling families (see {@link ClassifierPooling}): `last`/`mean` read only the valid
 * steps (padding never changes the result); `last-unmasked`/`mean-unmasked` reproduce the
 * PyTorch pipeline's forward, which runs the LSTM over the whole pre-padded window, to
 * evaluate or fine-tune its checkpoints as they were trained.
 *
 * Weights are created on the host from a seeded PRNG (PyTorch's uniform initialisation),
 * never with tf's orthogonal initialiser (214 s on WebGPU).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { type LstmImpl, type Pooling, POOLINGS } from "./model_settings.ts";
import { mixSeed, mulberry32 } from "./_prng.ts";
import { lstmLayer } from "./lstm_layer.ts";
import type { LstmDirectionWeights, LstmLayerWeights } from "./lstm_types.ts";

/** The hidden sizes of the head's first two Linear layers (data contract). */
export const HEAD_HIDDEN_SIZES: readonly number[] = Object.freeze([128, 64]);

/** How the LSTM outputs become one vector per window (see {@link Pooling}). */
export type ClassifierPooling = Pooling;

/** Every {@link ClassifierPooling}, in the order of its doc. */
export const CLASSIFIER_POOLINGS: readonly ClassifierPooling[] = POOLINGS;

/** Everything that fixes the model's architecture. */
export interface ModelConfig {
  /** Features per step (105 for Component X; read from the data, never assumed). */
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bidirectional: boolean;
  /** Dropout rate between LSTM layers and after each ReLU of the head, in [0, 1). */
  readonly dropout: number;
  readonly pooling: ClassifierPooling;
  readonly numClasses: number;
  /** LSTM implementation; default `"fused"`. */
  readonly lstmImpl?: LstmImpl;
}

/** A Linear layer in tfjs layout: `kernel` [in, out] (PyTorch `weight` is its transpose). */
export interface DenseWeights {
  readonly kernel: tf.Variable;
  readonly bias: tf.Variable;
}

/**
 * One model variable and its name. Names follow PyTorch's state_dict where the layout
 * allows: `lstm.weight_ih_l0` (stored as tfjs kernel [In, 4H], i.e. transposed),
 * `lstm.weight_hh_l0` ([H, 4H]), `lstm.bias_l0` (bias_ih + bias_hh, [4H]), `..._reverse` for
 * the backward direction, `head.0.weight` ([in, out], transposed), `head.0.bias`, then
 * `head.3.*` and `head.6.*` (the indices of PyTorch's `nn.Sequential`).
 */
export interface NamedVariable {
  readonly name: string;
  readonly variable: tf.Variable;
}

/** Options for {@link LstmClassifier.apply}. */
export interface ApplyOptions {
  /** Enables dropout. Default false. */
  readonly training?: boolean;
  /**
   * Seed of every dropout mask in this call; the same seed gives the same masks on every
   * backend (tfjs draws them on the host). Required when training with dropout > 0.
   */
  readonly dropoutSeed?: number;
}

/** The classifier returned by {@link createLstmClassifier}. */
export interface LstmClassifier {
  readonly config: Readonly<ModelConfig>;
  /** LSTM weights per layer, in the contract's layout. */
  readonly lstm: readonly LstmLayerWeights[];
  /** The head's three Linear layers. */
  readonly head: readonly DenseWeights[];
  /** Every variable, in a fixed order (LSTM layers, forward before reverse, then head). */
  readonly namedVariables: readonly NamedVariable[];
  /**
   * Logits [batch, numClasses] for `x` [batch, steps, inputSize] and `mask` [batch, steps]
   * (1 = valid step, 0 = padding). Call inside `tf.tidy` / `tf.variableGrads`.
   */
  apply(x: tf.Tensor3D, mask: tf.Tensor2D, options?: ApplyOptions): tf.Tensor2D;
  /** Disposes every variable. */
  dispose(): void;
}

/** Options for {@link createLstmClassifier}. */
export interface CreateClassifierOptions {
  /** Seed of the host PRNG that draws the initial weights. */
  readonly seed: number;
}

function validateConfig(config: ModelConfig): void {
  const positiveInt = (name: keyof ModelConfig) => {
    const v = config[name];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
      throw new RangeError(
        `Cannot create the LSTM classifier: ${name} must be a positive integer, received ${
          JSON.stringify(v)
        }`,
      );
    }
  };
  positiveInt("inputSize");
  positiveInt("hiddenSize");
  positiveInt("numLayers");
  positiveInt("numClasses");
  if (!(config.dropout >= 0 && config.dropout < 1)) {
    throw new RangeError(
      `Cannot create the LSTM classifier: dropout must be in [0, 1), received ${config.dropout}`,
    );
  }
  if (!CLASSIFIER_POOLINGS.includes(config.pooling)) {
    throw new RangeError(
      `Cannot create the LSTM classifier: pooling must be one of ${
        CLASSIFIER_POOLINGS.join(", ")
      }, received ${JSON.stringify(config.pooling)}`,
    );
  }
  const impl = config.lstmImpl ?? "fused";
  if (impl !== "fused" && impl !== "layers") {
    throw new RangeError(
      `Cannot create the LSTM classifier: lstmImpl must be one of fused, layers, received ${
        JSON.stringify(impl)
      }`,
    );
  }
}

/**
 * Creates the classifier with weights drawn on the host: every LSTM weight and bias from
 * U(-1/sqrt(H), 1/sqrt(H)) as PyTorch's `nn.LSTM` does, plus 1 on the forget-gate bias;
 * every Linear weight and bias from U(-1/sqrt(in), 1/sqrt(in)) as PyTorch's `nn.Linear`.
 *
 * @example
 * ```ts
 * const model = createLstmClassifier({
 *   inputSize: 105, hiddenSize: 128, numLayers: 2, bidirectional: true,
 *   dropout: 0.1, pooling: "last", numClasses: 5,
 * }, { seed: 42 });
 * const logits = tf.tidy(() => model.apply(x, mask));
 * ```
 */
export function createLstmClassifier(
  config: ModelConfig,
  options: CreateClassifierOptions,
): LstmClassifier {
  validateConfig(config);
  const frozen = Object.freeze({ ...config, lstmImpl: config.lstmImpl ?? "fused" });
  const rand = mulberry32(options.seed);
  const uniform = (shape: number[], bound: number, offsetAt?: [number, number]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let k = 0; k < n; k++) data[k] = (2 * rand() - 1) * bound;
    if (offsetAt) { for (let k = offsetAt[0]; k < offsetAt[1]; k++) data[k] += 1; }
    const initial = tf.tensor(data, shape, "float32");
    const variable = tf.variable(initial, true);
    initial.dispose(); // the variable holds its own reference to the data
    return variable;
  };

  const { hiddenSize: h, numLayers, bidirectional, inputSize } = frozen;
  const dirs = bidirectional ? 2 : 1;
  const named: NamedVariable[] = [];
  const k = 1 / Math.sqrt(h);
  const direction = (layer: number, inSize: number, suffix: string): LstmDirectionWeights => {
    const kernel = uniform([inSize, 4 * h], k);
    const recurrent = uniform([h, 4 * h], k);
    const bias = uniform([4 * h], k, [h, 2 * h]); // forget gate: +1
    named.push(
      { name: `lstm.weight_ih_l${layer}${suffix}`, variable: kernel },
      { name: `lstm.weight_hh_l${layer}${suffix}`, variable: recurrent },
      { name: `lstm.bias_l${layer}${suffix}`, variable: bias },
    );
    return { kernel, recurrent, bias };
  };
  const lstm: LstmLayerWeights[] = [];
  for (let l = 0; l < numLayers; l++) {
    const inSize = l === 0 ? inputSize : dirs * h;
    const forward = direction(l, inSize, "");
    lstm.push(
      bidirectional ? { forward, backward: direction(l, inSize, "_reverse") } : { forward },
    );
  }
  const sizes = [dirs * h, ...HEAD_HIDDEN_SIZES, frozen.numClasses];
  const head: DenseWeights[] = [];
  for (let j = 0; j + 1 < sizes.length; j++) {
    const bound = 1 / Math.sqrt(sizes[j]);
    const kernel = uniform([sizes[j], sizes[j + 1]], bound);
    const bias = uniform([sizes[j + 1]], bound);
    named.push(
      { name: `head.${3 * j}.weight`, variable: kernel },
      { name: `head.${3 * j}.bias`, variable: bias },
    );
    head.push({ kernel, bias });
  }

  const apply = (x: tf.Tensor3D, mask: tf.Tensor2D, opts: ApplyOptions = {}): tf.Tensor2D =>
    tf.tidy(() => {
      if (x.rank !== 3 || x.shape[2] !== inputSize) {
        throw new RangeError(
          `Cannot apply the LSTM classifier: expected x of shape [batch, steps, ${inputSize}], received [${x.shape}]`,
        );
      }
      const rate = opts.training ? frozen.dropout : 0;
      if (rate > 0 && opts.dropoutSeed === undefined) {
        throw new TypeError(
          "Cannot apply the LSTM classifier in training mode: dropoutSeed is required when dropout > 0 " +
            "(derive it from seed, epoch and step so a resumed run matches)",
        );
      }
      let site = 0;
      const drop = <T extends tf.Tensor>(t: T): T =>
        rate > 0 ? tf.dropout(t, rate, undefined, mixSeed(opts.dropoutSeed!, site++)) as T : t;

      // The unmasked poolings run the LSTM over every step, padding included.
      const unmasked = frozen.pooling === "last-unmasked" || frozen.pooling === "mean-unmasked";
      const lstmMask = unmasked ? tf.onesLike(mask) : mask;
      let seq: tf.Tensor3D = x;
      for (let l = 0; l < numLayers; l++) {
        if (l > 0) seq = drop(seq);
        // The first layer's input is data: no gradient needed there.
        seq = lstmLayer(seq, lstmMask, lstm[l], { impl: frozen.lstmImpl, inputGradient: l > 0 });
      }
      const [batch, steps, width] = seq.shape;
      let pooled: tf.Tensor2D;
      if (frozen.pooling === "last-unmasked") {
        pooled = tf.reshape(tf.slice(seq, [0, steps - 1, 0], [batch, 1, width]), [batch, width]);
      } else if (frozen.pooling === "last") {
        // Forward: held state at the last step = state at the last valid step.
        const fwd = tf.reshape(tf.slice(seq, [0, steps - 1, 0], [batch, 1, h]), [batch, h]);
        if (dirs === 1) {
          pooled = fwd as tf.Tensor2D;
        } else {
          // Backward: held state at step 0 = state after reading the whole valid span.
          const bwd = tf.reshape(tf.slice(seq, [0, 0, h], [batch, 1, h]), [batch, h]);
          pooled = tf.concat([fwd, bwd], 1) as tf.Tensor2D;
        }
      } else {
        // mean, mean-unmasked: over the valid steps only.
        const m = tf.expandDims(mask, 2);
        const count = tf.maximum(tf.sum(mask, 1, true), 1);
        pooled = tf.div(tf.sum(tf.mul(seq, m), 1), count) as tf.Tensor2D;
      }
      let out: tf.Tensor2D = pooled;
      for (let j = 0; j < head.length; j++) {
        out = tf.add(tf.matMul(out, head[j].kernel), head[j].bias) as tf.Tensor2D;
        if (j + 1 < head.length) out = drop(tf.relu(out));
      }
      return out;
    });

  return Object.freeze({
    config: frozen,
    lstm: Object.freeze(lstm),
    head: Object.freeze(head),
    namedVariables: Object.freeze(named),
    apply,
    dispose() {
      for (const { variable } of named) if (!variable.isDisposed) variable.dispose();
    },
  });
}
