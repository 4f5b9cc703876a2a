/**
 * What the training loop is given: the model's architecture settings and the loop's own
 * (optimiser, schedule, batching, loss, seed, early stopping, log interval). Paths, device
 * and tracking belong to the run spec of `src/jobs/`, not here: a checkpoint stores this
 * config, never where the data came from or where the run was logged.
 *
 * @module
 */
import { DEFAULT_MODEL_SETTINGS, type ModelSettings } from "../model/model_settings.ts";

/** The optimiser and loop settings of one training. */
export interface LoopConfig {
  readonly batchSize: number;
  readonly epochs: number;
  /** AdamW learning rate (before StepLR). */
  readonly lr: number;
  /** AdamW decoupled weight decay. */
  readonly weightDecay: number;
  /** StepLR: decay every this many epochs. */
  readonly stepLrStepSize: number;
  /** StepLR: multiply the learning rate by this. */
  readonly stepLrGamma: number;
  /** Class-weighted cross-entropy, w_c = sqrt(N / (K n_c)) rescaled to sum K. */
  readonly weightedLoss: boolean;
  /** Sample rows with probability 1/n_c of their class. */
  readonly weightedSampler: boolean;
  /** Focal loss with gamma 2. */
  readonly focalLoss: boolean;
  /** Max global gradient norm; 0 disables clipping. */
  readonly gradClip: number;
  /** Steps between progress reports (and loss read-backs). */
  readonly logInterval: number;
  /** Seed of the initial weights, the shuffling and every dropout mask. */
  readonly seed: number;
  /** Early stopping: epochs without a new best checkpoint (see `isBetterCheckpoint`); 0 disables. */
  readonly patience: number;
  /**
   * Batch rows of similar valid length together so per-batch trimming removes most
   * padding; off by default.
   */
  readonly bucketByLength: boolean;
}

/** Everything `train()` needs besides the data: the model's settings and the loop's. */
export interface TrainConfig {
  readonly model: ModelSettings;
  readonly loop: LoopConfig;
}

/** The data contract's loop defaults, plus ours. */
export const DEFAULT_LOOP_CONFIG: LoopConfig = Object.freeze({
  batchSize: 64,
  epochs: 20,
  lr: 1e-3,
  weightDecay: 1e-4,
  stepLrStepSize: 10,
  stepLrGamma: 0.5,
  weightedLoss: false,
  weightedSampler: false,
  focalLoss: false,
  gradClip: 0,
  logInterval: 100,
  seed: 42,
  patience: 0,
  bucketByLength: false,
});

/** The defaults of model and loop. */
export const DEFAULT_TRAIN_CONFIG: TrainConfig = Object.freeze({
  model: DEFAULT_MODEL_SETTINGS,
  loop: DEFAULT_LOOP_CONFIG,
});

/**
 * A config with some settings replaced; `overrides` may name model and loop settings side
 * by side (`{ hiddenSize: 8, epochs: 2 }`).
 *
 * @example
 * ```ts
 * const config = withSettings(DEFAULT_TRAIN_CONFIG, { hiddenSize: 16, epochs: 3 });
 * ```
 */
export function withSettings(
  config: TrainConfig,
  overrides: Partial<ModelSettings & LoopConfig>,
): TrainConfig {
  const model: Record<string, unknown> = { ...config.model };
  const loop: Record<string, unknown> = { ...config.loop };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (key in config.model) model[key] = value;
    else if (key in config.loop) loop[key] = value;
    else throw new TypeError(`Cannot set "${key}": it is neither a model nor a loop setting`);
  }
  return Object.freeze({
    model: Object.freeze(model) as unknown as ModelSettings,
    loop: Object.freeze(loop) as unknown as LoopConfig,
  });
}
