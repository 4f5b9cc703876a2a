/**
 * The classifier as the PyTorch pipeline's `LSTMClassifier` (`src/models/lstm_classifier.py`)
 * names and lays out its parameters: `lstm.weight_ih_l0` [4H, in], `lstm.weight_hh_l0`
 * [4H, H], `lstm.bias_ih_l0` and `lstm.bias_hh_l0` [4H] (`_reverse` for the backward
 * direction), then `classifier.0/3/6.weight` [out, in] and `.bias` (the indices of its
 * `nn.Sequential`). Our variables keep tfjs layouts (kernels [in, out]) and one LSTM bias
 * (PyTorch's `bias_ih + bias_hh`); this module maps between the two.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { PyOrderedDict, type PyValue, TorchTensor, torchTensorToFloat32 } from "../torch/mod.ts";
import type { Pooling } from "./model_settings.ts";
import {
  type ClassifierPooling,
  HEAD_HIDDEN_SIZES,
  type LstmClassifier,
  type ModelConfig,
} from "./classifier.ts";

/**
 * `args['pooling']` of a checkpoint for each of our poolings. The pipeline's own values
 * `last` / `mean` are its forward over the whole window (our `last-unmasked` /
 * `mean-unmasked`); the corrected poolings have no pipeline counterpart and are written
 * `last-masked` / `mean-masked`, so no reader takes them for the pipeline's.
 */
export const PIPELINE_POOLING_ARG: Readonly<Record<Pooling, string>> = Object.freeze({
  "last-unmasked": "last",
  "mean-unmasked": "mean",
  last: "last-masked",
  mean: "mean-masked",
});

/** One PyTorch parameter and the variable it comes from. */
export interface TorchParameter {
  /** The pipeline's state-dict key, e.g. `lstm.weight_ih_l0`, `classifier.3.bias`. */
  readonly torchName: string;
  /** Our variable (`LstmClassifier.namedVariables` name). */
  readonly variable: string;
  /**
   * - `transposed`: PyTorch's tensor is the transpose of our 2-D variable;
   * - `same`: same layout;
   * - `bias_hh`: PyTorch's `bias_hh`, whose sum with `bias_ih` is our bias: exported as
   *   zeros (`bias_ih` carries the sum), added in on import. Its gradient, and so its AdamW
   *   moments, equal those of `bias_ih`.
   */
  readonly layout: "transposed" | "same" | "bias_hh";
  /** PyTorch's shape. */
  readonly shape: readonly number[];
}

/**
 * The pipeline's parameters in `model.parameters()` order (the order of its state dict and
 * of its optimizer's parameter indices), each with the variable it maps to.
 */
export function torchParameters(model: LstmClassifier): TorchParameter[] {
  const out: TorchParameter[] = [];
  for (const { name, variable } of model.namedVariables) {
    const shape = variable.shape;
    const bias = /^lstm\.bias_(l\d+(?:_reverse)?)$/.exec(name);
    const head = /^head\.(\d+)\.(weight|bias)$/.exec(name);
    if (bias) {
      out.push({ torchName: `lstm.bias_ih_${bias[1]}`, variable: name, layout: "same", shape });
      out.push({ torchName: `lstm.bias_hh_${bias[1]}`, variable: name, layout: "bias_hh", shape });
    } else if (shape.length === 1) {
      out.push({ torchName: `classifier.${head![1]}.bias`, variable: name, layout: "same", shape });
    } else {
      const torchName = head ? `classifier.${head[1]}.weight` : name;
      const [rows, cols] = shape as [number, number];
      out.push({ torchName, variable: name, layout: "transposed", shape: [cols, rows] });
    }
  }
  return out;
}

/** Transposes a row-major [rows, cols] matrix. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  }
  return out;
}

/**
 * The classifier's weights as the pipeline's `model.state_dict()`: an OrderedDict of float32
 * tensors in parameter order, with the module versions (`_metadata`) PyTorch attaches.
 * The pipeline's `LSTMClassifier.load_state_dict(..., strict=True)` accepts it.
 */
export async function torchStateDict(
  model: LstmClassifier,
): Promise<PyOrderedDict<string, TorchTensor>> {
  const values = new Map<string, Float32Array>();
  for (const { name, variable } of model.namedVariables) {
    values.set(name, (await variable.data()) as Float32Array);
  }
  const out = new PyOrderedDict<string, TorchTensor>();
  for (const p of torchParameters(model)) {
    const v = values.get(p.variable)!;
    const data = p.layout === "transposed"
      ? transpose2d(v, p.shape[1], p.shape[0])
      : p.layout === "bias_hh"
      ? new Float32Array(v.length)
      : Float32Array.from(v);
    out.set(p.torchName, new TorchTensor("float32", p.shape, data));
  }
  const version = () => new Map<PyValue, PyValue>([["version", 1n]]);
  const modules = [
    "",
    "lstm",
    "classifier",
    ...[0, 1, 2, 3, 4, 5, 6].map((i) => `classifier.${i}`),
  ];
  const metadata = new PyOrderedDict();
  for (const m of modules) metadata.set(m, version());
  out.attributes.set("_metadata", metadata);
  return out;
}

/**
 * Loads the pipeline's state dict (`ckpt["model_state"]`, or our `model.safetensors`) into
 * the classifier, as `load_state_dict(strict=True)` would: every key present, no other key,
 * every shape right, floating-point values (float64/16 and bfloat16 are converted). Nothing
 * is changed when anything is wrong.
 *
 * @throws {RangeError} for missing or unexpected keys or a wrong shape.
 * @throws {TypeError} for a non-floating-point tensor.
 */
export function loadTorchStateDict(
  model: LstmClassifier,
  state: ReadonlyMap<string, TorchTensor>,
): void {
  const params = torchParameters(model);
  const expected = new Set(params.map((p) => p.torchName));
  const missing = [...expected].filter((n) => !state.has(n));
  const unexpected = [...state.keys()].filter((n) => !expected.has(n));
  if (missing.length > 0 || unexpected.length > 0) {
    throw new RangeError(
      `Cannot load classifier weights: missing ${JSON.stringify(missing)}, unexpected ${
        JSON.stringify(unexpected)
      }; check hiddenSize, numLayers and bidirectional match the saved model`,
    );
  }
  const updates = new Map<string, Float32Array>();
  for (const p of params) {
    const t = state.get(p.torchName)!;
    if (t.shape.join() !== p.shape.join()) {
      throw new RangeError(
        `Cannot load classifier weight "${p.torchName}": expected shape [${p.shape}], received [${t.shape}]`,
      );
    }
    let data: Float32Array;
    try {
      data = torchTensorToFloat32(t);
    } catch (cause) {
      throw new TypeError(
        `Cannot load classifier weight "${p.torchName}": expected a floating-point tensor, received ${t.dtype}`,
        { cause },
      );
    }
    if (p.layout === "transposed") {
      updates.set(p.variable, transpose2d(data, p.shape[0], p.shape[1]));
    } else {
      const prev = updates.get(p.variable);
      updates.set(p.variable, prev ? prev.map((a, k) => a + data[k]) : Float32Array.from(data));
    }
  }
  const byName = new Map(model.namedVariables.map((v) => [v.name, v.variable]));
  for (const [name, data] of updates) {
    const v = byName.get(name)!;
    tf.tidy(() => v.assign(tf.tensor(data, v.shape, "float32")));
  }
}

/**
 * The model config of a pipeline checkpoint: sizes from its state dict (`input_size` from
 * `lstm.weight_ih_l0`, hidden size, layers, directions, classes), dropout from `args`, and
 * the pipeline's forward (`args.pooling` "last" -> `last-unmasked`, "mean" ->
 * `mean-unmasked`; the toolkit's own "last-masked" / "mean-masked" -> `last` / `mean`, see
 * {@link PIPELINE_POOLING_ARG}). Sizes `args` also states must agree.
 *
 * @throws {RangeError} when the state dict is not the pipeline's LSTMClassifier or
 * disagrees with `args`.
 */
export function pipelineModelConfig(
  modelState: ReadonlyMap<string, TorchTensor>,
  args: ReadonlyMap<string, PyValue> = new Map(),
): ModelConfig {
  const fail = (what: string): never => {
    throw new RangeError(`Cannot build the model config of the pipeline checkpoint: ${what}`);
  };
  const shapeOf = (key: string): readonly number[] => {
    const t = modelState.get(key);
    if (!t) {
      fail(
        `model_state has no ${key} (keys: ${[...modelState.keys()].slice(0, 6).join(", ")}, ...)`,
      );
    }
    return t!.shape;
  };
  const [gates, inputSize] = shapeOf("lstm.weight_ih_l0");
  const hiddenSize = gates / 4;
  let numLayers = 0;
  while (modelState.has(`lstm.weight_ih_l${numLayers}`)) numLayers++;
  const bidirectional = modelState.has("lstm.weight_ih_l0_reverse");
  const last = 3 * HEAD_HIDDEN_SIZES.length;
  const [numClasses] = shapeOf(`classifier.${last}.weight`);
  const sizes = [(bidirectional ? 2 : 1) * hiddenSize, ...HEAD_HIDDEN_SIZES, numClasses];
  for (let j = 0; j + 1 < sizes.length; j++) {
    const got = shapeOf(`classifier.${3 * j}.weight`);
    if (got[0] !== sizes[j + 1] || got[1] !== sizes[j]) {
      fail(`classifier.${3 * j}.weight is [${got}], the head needs [${sizes[j + 1]}, ${sizes[j]}]`);
    }
  }
  const arg = (key: string) => args.get(key);
  const agree = (key: string, value: number | boolean) => {
    const a = arg(key);
    if (a === undefined || a === null) return;
    const v = typeof a === "bigint" ? Number(a) : a;
    if (v !== value) fail(`args.${key} is ${String(a)}, the state dict says ${value}`);
  };
  agree("hidden_size", hiddenSize);
  agree("num_layers", numLayers);
  agree("bidirectional", bidirectional);
  const pooling = arg("pooling") ?? "last";
  const poolings: Record<string, ClassifierPooling> = Object.fromEntries(
    Object.entries(PIPELINE_POOLING_ARG).map(([ours, arg]) => [arg, ours as ClassifierPooling]),
  );
  if (typeof pooling !== "string" || !Object.hasOwn(poolings, pooling)) {
    fail(
      `args.pooling must be one of ${Object.keys(poolings).join(", ")}, found ${String(pooling)}`,
    );
  }
  const dropout = arg("dropout");
  return {
    inputSize,
    hiddenSize,
    numLayers,
    bidirectional,
    dropout: typeof dropout === "number" ? dropout : 0,
    pooling: poolings[pooling as string],
    numClasses,
  };
}
