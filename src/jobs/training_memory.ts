/**
 * Whether a training fits in memory, checked before anything is written: the model's
 * parameters (with their gradients and AdamW's two moments) and the activations a step
 * keeps for the backward pass, against what the backend can address. A model that cannot
 * be allocated is a clear error naming the flags, not "Array buffer allocation failed"
 * after the output folder and the MLflow run were made.
 *
 * @module
 */
import { HEAD_HIDDEN_SIZES, type ModelConfig } from "../model/classifier.ts";

/** What a training step needs, in bytes (float32). */
export interface TrainingMemory {
  readonly parameters: number;
  /** Weights, gradients and two AdamW moments. */
  readonly parameterBytes: number;
  /** Gates and states of every LSTM step kept for the backward pass, twice for temporaries. */
  readonly activationBytes: number;
  /** The largest single tensor (one weight matrix or one layer's gates). */
  readonly largestTensorBytes: number;
}

/** Estimates the memory of training `model` on batches of `batchSize` windows of `steps`. */
export function trainingMemory(
  model: Pick<
    ModelConfig,
    "inputSize" | "hiddenSize" | "numLayers" | "bidirectional" | "numClasses"
  >,
  batchSize: number,
  steps: number,
): TrainingMemory {
  const h = model.hiddenSize;
  const dirs = model.bidirectional ? 2 : 1;
  let parameters = 0;
  let largest = 0;
  for (let layer = 0; layer < model.numLayers; layer++) {
    const inSize = layer === 0 ? model.inputSize : dirs * h;
    parameters += dirs * (inSize * 4 * h + h * 4 * h + 4 * h);
    largest = Math.max(largest, inSize * 4 * h, h * 4 * h);
  }
  const sizes = [dirs * h, ...HEAD_HIDDEN_SIZES, model.numClasses];
  for (let j = 0; j + 1 < sizes.length; j++) {
    parameters += sizes[j] * sizes[j + 1] + sizes[j + 1];
    largest = Math.max(largest, sizes[j] * sizes[j + 1]);
  }
  const gatesPerLayer = batchSize * steps * 4 * h;
  const activations = 2 * model.numLayers * dirs * batchSize * steps * 6 * h;
  return {
    parameters,
    parameterBytes: 4 * 4 * parameters,
    activationBytes: 4 * activations,
    largestTensorBytes: 4 * Math.max(largest, gatesPerLayer),
  };
}

/** What the backend can hold; a limit left out is not checked. */
export interface MemoryLimits {
  /** In words, for the message (e.g. "the wasm backend's 4 GiB address space"). */
  readonly name: string;
  /** Everything together. */
  readonly totalBytes?: number;
  /** One buffer (WebGPU's `maxStorageBufferBindingSize`). */
  readonly tensorBytes?: number;
}

/** The wasm backend's linear memory: 32-bit addresses, at most 4 GiB. */
export const WASM_MEMORY_BYTES = 4 * 1024 ** 3;

function gb(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${(bytes / 1e6).toFixed(0)} MB`;
}

/**
 * Throws a RangeError naming the size flags when `memory` exceeds `limits`:
 * "Cannot train: ... needs about N GB ..., more than <limits.name>; lower ...".
 */
export function checkTrainingMemory(
  memory: TrainingMemory,
  settings: { hiddenSize: number; numLayers: number; bidirectional: boolean; batchSize: number },
  limits: MemoryLimits,
): void {
  const total = memory.parameterBytes + memory.activationBytes;
  const model = `--hidden-size ${settings.hiddenSize}, --num-layers ${settings.numLayers}` +
    (settings.bidirectional ? ", --bidirectional" : "");
  const advice = "lower --hidden-size, --num-layers or --batch-size";
  if (limits.totalBytes !== undefined && total > limits.totalBytes) {
    throw new RangeError(
      `Cannot train: the model (${model}) has ${memory.parameters.toExponential(2)} ` +
        `parameters; training it needs about ${gb(total)} (${gb(memory.parameterBytes)} for ` +
        `weights, gradients and AdamW moments, ${gb(memory.activationBytes)} of activations ` +
        `at --batch-size ${settings.batchSize}), more than ${limits.name} (${
          gb(limits.totalBytes)
        }); ${advice}`,
    );
  }
  if (limits.tensorBytes !== undefined && memory.largestTensorBytes > limits.tensorBytes) {
    throw new RangeError(
      `Cannot train: the model (${model}) at --batch-size ${settings.batchSize} needs a ` +
        `tensor of ${gb(memory.largestTensorBytes)}, more than ${limits.name} allows in one ` +
        `buffer (${gb(limits.tensorBytes)}); ${advice}`,
    );
  }
}
