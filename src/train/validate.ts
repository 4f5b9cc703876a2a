/**
 * Prediction and validation over a whole dataset: `predictProbabilities` (what the
 * evaluation bundle and the demo show) and `validate` (the loop's per-epoch val loss,
 * accuracy, macro-F1 and cost).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { gatherBatch } from "../data/batches.ts";
import type { SequenceDataset } from "../data/sequence_dataset.ts";
import {
  accuracy,
  type ConfusionMatrix,
  confusionMatrix,
  COST_MATRIX,
  macroF1,
  totalCost,
} from "../metrics/metrics.ts";
import type { LstmClassifier } from "../model/classifier.ts";
import { batchTensors } from "./_batch_tensors.ts";
import { abortCheck } from "./_yield.ts";

/** Options of {@link predictProbabilities}. */
export interface PredictOptions {
  /** Rows per forward pass. Default 64. */
  readonly batchSize?: number;
  /** Round each batch's trimmed window up to a multiple of this (fewer shapes). Default 1. */
  readonly stepMultiple?: number;
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
 * batch over rows sorted by valid length, each batch trimmed to its longest valid length.
 */
export async function predictProbabilities(
  model: LstmClassifier,
  data: SequenceDataset,
  options: PredictOptions = {},
): Promise<Float32Array[]> {
  const logp = await predictLogProbabilities(model, data, options);
  for (let i = 0; i < logp.length; i++) logp[i] = Math.exp(logp[i]);
  const k = model.config.numClasses;
  return Array.from({ length: data.size }, (_, i) => logp.subarray(i * k, (i + 1) * k));
}

async function predictLogProbabilities(
  model: LstmClassifier,
  data: SequenceDataset,
  options: PredictOptions,
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
    const b = gatherBatch(data, rows, options.stepMultiple ?? 1);
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
  /** Total cost under the contract's cost matrix. */
  readonly cost: number;
  readonly confusion: ConfusionMatrix;
  readonly probabilities: Float32Array[];
}

/** Options of {@link validate}. */
export interface ValidateOptions extends PredictOptions {
  readonly classWeights?: readonly number[];
  readonly focalGamma?: number;
}

/**
 * Validates `model` on `data`: loss (computed on the host from log-probabilities with the
 * same formula as `classificationLoss`), accuracy, macro-F1 and cost of the argmax
 * predictions, and the probabilities.
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
  const probabilities: Float32Array[] = [];
  for (let i = 0; i < logp.length; i++) logp[i] = Math.exp(logp[i]);
  for (let i = 0; i < data.size; i++) probabilities.push(logp.subarray(i * k, (i + 1) * k));
  return {
    loss: den > 0 ? num / den : NaN,
    accuracy: accuracy(confusion),
    macroF1: macroF1(confusion),
    cost: totalCost(confusion, COST_MATRIX),
    confusion,
    probabilities,
  };
}
