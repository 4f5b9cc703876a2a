/**
 * Where a training starts: fresh, from one of the toolkit's checkpoints, or from the PyTorch
 * pipeline's `last.pt`. Checks that a checkpoint fits this run, then restores its weights,
 * optimizer state and progress. Private to `src/train/`.
 *
 * @module
 */
import { type Task, taskToJson } from "../metrics/task.ts";
import type { LstmClassifier, ModelConfig } from "../model/classifier.ts";
import type { PipelineCheckpoint } from "../torch/pipeline_checkpoint.ts";
import {
  assignCheckpointWeights,
  type BestSoFar,
  type PartialEpoch,
  type TrainingCheckpoint,
} from "./checkpoint.ts";
import type { TrainOptimizer } from "./create_optimizer.ts";
import { resumeFromPipeline } from "./torch_checkpoint.ts";

/** Where the loop starts, and the progress it carries over. */
export interface StartPoint {
  /** The first epoch to run (1-based). */
  readonly startEpoch: number;
  /** Steps already done of `startEpoch`. */
  readonly startStep: number;
  readonly partial: PartialEpoch | null;
  readonly bestValF1: number;
  readonly best: BestSoFar | null;
  readonly temperature: number | null;
  /** Epochs without improvement so far (early stopping). */
  readonly stale: number;
  /** The schedule's known rate of `startEpoch`; undefined = from the configured rate. */
  readonly lrFrom: { readonly epoch: number; readonly lr: number } | undefined;
}

/** Throws a `RangeError` when the checkpoint's model or task differs from this run's. */
export function checkResumable(
  resumed: TrainingCheckpoint | null,
  modelConfig: ModelConfig,
  task: Task,
): void {
  if (resumed && JSON.stringify(resumed.modelConfig) !== JSON.stringify(modelConfig)) {
    throw new RangeError(
      `Cannot resume: the checkpoint's model ${JSON.stringify(resumed.modelConfig)} differs from ` +
        `this run's ${
          JSON.stringify(modelConfig)
        }; use the same model settings as the original run`,
    );
  }
  if (
    resumed?.task && JSON.stringify(taskToJson(resumed.task)) !== JSON.stringify(taskToJson(task))
  ) {
    throw new RangeError(
      `Cannot resume: the checkpoint's task ${JSON.stringify(taskToJson(resumed.task))} ` +
        `differs from this run's ${JSON.stringify(taskToJson(task))}; pass the same --task`,
    );
  }
}

/**
 * Loads `resumed` (else `resumePipeline`, else nothing) into the fresh model and optimizer
 * and returns where the loop starts.
 */
export function restoreStartPoint(
  model: LstmClassifier,
  optimizer: TrainOptimizer,
  task: Task,
  resumed: TrainingCheckpoint | null,
  resumePipeline: PipelineCheckpoint | undefined,
  log: ((line: string) => void) | undefined,
): StartPoint {
  let startEpoch = resumed ? resumed.epoch + 1 : 1;
  const startStep = resumed?.stepInEpoch ?? 0;
  const partial: PartialEpoch | null = resumed?.partial ?? null;
  let bestValF1 = resumed?.bestValF1 ?? -1;
  // Older checkpoints know only the best val macro-F1 (no loss to break ties with).
  let best: BestSoFar | null = resumed?.best ??
    (resumed && resumed.bestValF1 >= 0 && task.promotionMetric === "val_macro_f1"
      ? {
        metric: "val_macro_f1",
        value: resumed.bestValF1,
        valLoss: Number.MAX_VALUE, // JSON has no Infinity; any real loss is lower
        epoch: resumed.epoch,
      }
      : null);
  const temperature: number | null = resumed?.temperature ?? null;
  const stale = resumed?.epochsWithoutImprovement ?? 0;
  // The schedule continues from the saved rate of the first epoch to run (as StepLR does).
  let lrFrom = resumed?.schedule ? { epoch: startEpoch, lr: resumed.schedule.lr } : undefined;
  if (resumed) {
    assignCheckpointWeights(model, resumed);
    if (resumed.optimizer) optimizer.setState(resumed.optimizer);
  } else if (resumePipeline) {
    const pt = resumeFromPipeline(model, resumePipeline);
    for (const note of pt.notes) log?.(`note: ${note}`);
    if (pt.optimizer) optimizer.setState(pt.optimizer);
    startEpoch = pt.epoch + 1;
    bestValF1 = pt.bestValF1;
    // The pipeline's best is by val macro-F1 (no loss to break ties with).
    if (pt.bestValF1 >= 0 && task.promotionMetric === "val_macro_f1") {
      best = {
        metric: "val_macro_f1",
        value: pt.bestValF1,
        valLoss: Number.MAX_VALUE,
        epoch: pt.epoch,
      };
    }
    if (pt.nextLr !== null) lrFrom = { epoch: startEpoch, lr: pt.nextLr };
  }
  return { startEpoch, startStep, partial, bestValF1, best, temperature, stale, lrFrom };
}
