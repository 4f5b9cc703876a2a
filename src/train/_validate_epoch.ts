/**
 * The validation at the end of an epoch, and what a Ctrl-C during it means to the loop.
 * Private to `src/train/`.
 *
 * @module
 */
import type { SequenceDataset } from "../data/sequence_dataset.ts";
import type { LstmClassifier } from "../model/classifier.ts";
import {
  PredictionAbortedError,
  validate,
  type ValidateOptions,
  type ValidationResult,
} from "./validate.ts";

/**
 * Validates the model on `valSet`; null without validation data. Returns "aborted" when the
 * signal stopped it: the epoch's steps are done, and resuming validates it.
 */
export async function validateEpoch(
  model: LstmClassifier,
  valSet: SequenceDataset | undefined,
  options: ValidateOptions,
): Promise<ValidationResult | null | "aborted"> {
  try {
    return valSet ? await validate(model, valSet, options) : null;
  } catch (error) {
    if (!(error instanceof PredictionAbortedError)) throw error;
    return "aborted";
  }
}
