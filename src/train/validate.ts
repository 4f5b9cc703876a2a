/**
 * Prediction and validation over a whole dataset: `predictProbabilities` (what the
 * evaluation bundle and the demo show, optionally temperature-scaled) and `validate` (the
 * loop's per-epoch val loss, accuracy, macro-F1, cost under the task's cost matrix, and the
 * temperature fitted on the validation logits).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { gatherBatch } from "../data/batches.ts";
import type { SequenceDataset } from "../data/sequence_dataset.ts";
import { fitTemperature, type TemperatureFit } from "../metrics/calibration.ts";
import {
  accuracy,
  type ConfusionMatrix,
  confusionMatrix,
  macroF1,
  totalCost,
} from "../metrics/metrics.ts";
import type { LstmClassifier } from "../model/classifier.ts";
import { poolingReadsPadding } from "../model/model_settings.ts";
import { batchTensors } from "./_batch_tensors.ts";
import { abortCheck } from "./_yield.ts";

/** Options of {@link predictProbabilities}. */
export interface PredictOptions {
  /** Rows per forward pass. Default 64. */
  readonly batchSize?: number;
  /**
   * Round each batch's trimmed window up to a multiple of this (fewer shapes). Default 1.
   * Ignored for the pipeline's poolings, which always see the whole window.
   */
  readonly stepMultiple?: number;
  /** Divide the logits by this before the softmax (temperature scaling). Default 1. */
  readonly temperature?: number;
  /** Abort = stop after the current batch with a {@link PredictionAbortedError}. */
  readonly signal?: AbortSignal;
}

/** Prediction (or validation) stopped after a batch because its signal was aborted. */
export class PredictionAbortedError extends Error {
  /** Rows predicted before the stop. */
  readonly rowsDone: number;

  /** Builds the error; the message names how far it got. */
  constructor(rowsDone: number, rows: number) {
    super(`Cannot finish the prediction: stopped after ${rowsDone} of ${rows} rows`);
    this.name = "PredictionAbortedError";
    this.rowsDone = rowsDone;
  }
}

/**
 * Softmax probabilities for every row of `data`, in row order: one `Float32Array` of
 * `numClasses` per row (views of one buffer). Runs in eval mode (no dropout), batch by
 * batch over rows sorted by valid length, each batch trimmed to its longest valid length
 * (never for `last-unmasked` / `mean-unmasked`, whose LSTM runs over the padding too).
 * With `temperature` T, the probabilities are `softmax(logits / T)`.
 */
export async function predictProbabilities(
  model: LstmClassifier,
  data: SequenceDataset,
  options: PredictOptions = {},
): Promise<Float32Array[]> {
  const t = options.temperature ?? 1;
  if (!(t > 0) || !Number.isFinite(t)) {
    throw new RangeError(`Cannot predict: temperature must be a finite number > 0, received ${t}`);
  }
  const logp = await predictLogProbabilities(model, data, options);
  const k = model.config.numClasses;
  const rows = Array.from({ length: data.size }, (_, i) => logp.subarray(i * k, (i + 1) * k));
  if (t === 1) {
    for (let i = 0; i < logp.length; i++) logp[i] = Math.exp(logp[i]);
    return rows;
  }
  for (const row of rows) {
    // softmax(z / T) from log-probabilities (a per-row shift of z): stable in float64.
    let max = -Infinity;
    for (let c = 0; c < k; c++) max = Math.max(max, row[c] / t);
    let sum = 0;
    for (let c = 0; c < k; c++) sum += Math.exp(row[c] / t - max);
    for (let c = 0; c < k; c++) row[c] = Math.exp(row[c] / t - max) / sum;
  }
  return rows;
}

/**
 * Log-softmax outputs for every row of `data`, in row order, as one flat `Float32Array`
 * (row i at `[i * K, (i + 1) * K)`): logits up to a per-row shift, which is all
 * temperature scaling needs.
 */
export async function predictLogProbabilities(
  model: LstmClassifier,
  data: SequenceDataset,
  options: Omit<PredictOptions, "temperature"> = {},
): Promise<Float32Array> {
  const batchSize = options.batchSize ?? 64;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(
      `Cannot predict: batchSize must be a positive integer, received ${batchSize}`,
    );
  }
  const k = model.config.numClasses;
  const out = new Float32Array(data.size * k);
  // Rows sorted by valid length: each batch is trimmed to similar lengths (exact; results
  // are written back to each row's own place).
  const order = Int32Array.from({ length: data.size }, (_, i) => i)
    .sort((a, b) => data.lengths[a] - data.lengths[b]);
  const aborted = abortCheck(options.signal);
  for (let start = 0; start < data.size; start += batchSize) {
    if (start > 0 && await aborted()) throw new PredictionAbortedError(start, data.size);
    const rows = order.subarray(start, Math.min(data.size, start + batchSize));
    const b = gatherBatch(
      data,
      rows,
      poolingReadsPadding(model.config.pooling) ? data.steps : options.stepMultiple ?? 1,
    );
    const logp = tf.tidy(() => {
      const { x, mask } = batchTensors(b);
      return tf.logSoftmax(model.apply(x, mask, { training: false }));
    });
    const values = (await logp.data()) as Float32Array;
    logp.dispose();
    for (let r = 0; r < rows.length; r++) {
      out.set(values.subarray(r * k, (r + 1) * k), rows[r] * k);
    }
  }
  return out;
}

/** What {@link validate} measures. */
export interface ValidationResult {
  /** Mean loss under the training criterion (same class weights and focal gamma). */
  readonly loss: number;
  readonly accuracy: number;
  readonly macroF1: number;
  /** Total cost under `costMatrix`; null without one. */
  readonly cost: number | null;
  readonly confusion: ConfusionMatrix;
  /** Softmax probabilities (T = 1), one row per window. */
  readonly probabilities: Float32Array[];
  /** The temperature fitted on these logits and labels (minimum NLL); null without rows. */
  readonly calibration: TemperatureFit | null;
}

/** Options of {@link validate}. */
export interface ValidateOptions extends Omit<PredictOptions, "temperature"> {
  readonly classWeights?: readonly number[];
  readonly focalGamma?: number;
  /** The task's cost matrix (rows = true, columns = predicted); absent: no cost. */
  readonly costMatrix?: readonly (readonly number[])[] | null;
}

/**
 * Validates `model` on `data`: loss (computed on the host from log-probabilities with the
 * same formula as `classificationLoss`), accuracy, macro-F1 and cost of the argmax
 * predictions, the probabilities, and the temperature that calibrates them.
 */
export async function validate(
  model: LstmClassifier,
  data: SequenceDataset,
  options: ValidateOptions = {},
): Promise<ValidationResult> {
  const k = model.config.numClasses;
  const logp = await predictLogProbabilities(model, data, options);
  const gamma = options.focalGamma ?? 0;
  const preds = new Int32Array(data.size);
  let num = 0, den = 0;
  for (let i = 0; i < data.size; i++) {
    const row = logp.subarray(i * k, (i + 1) * k);
    let best = 0;
    for (let c = 1; c < k; c++) if (row[c] > row[best]) best = c;
    preds[i] = best;
    const y = data.labels[i];
    const w = options.classWeights ? options.classWeights[y] : 1;
    const nll = -row[y];
    num += w * (gamma > 0 ? (1 - Math.exp(-nll)) ** gamma * nll : nll);
    den += w;
  }
  const confusion = confusionMatrix(data.labels, preds, k);
  const rows = Array.from({ length: data.size }, (_, i) => logp.subarray(i * k, (i + 1) * k));
  const calibration = data.size > 0 ? fitTemperature(rows, data.labels) : null;
  for (let i = 0; i < logp.length; i++) logp[i] = Math.exp(logp[i]);
  return {
    loss: den > 0 ? num / den : NaN,
    accuracy: accuracy(confusion),
    macroF1: macroF1(confusion),
    cost: options.costMatrix ? totalCost(confusion, options.costMatrix) : null,
    confusion,
    probabilities: rows,
    calibration,
  };
}
