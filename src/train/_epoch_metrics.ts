/**
 * One epoch's row of metrics (`metrics.csv`, MLflow, the chart) from its training sums and
 * its validation. Private to `src/train/`.
 *
 * @module
 */
import type { Task } from "../metrics/task.ts";
import type { PartialEpoch } from "./checkpoint.ts";
import type { EpochMetrics } from "./hooks.ts";
import type { ValidationResult } from "./validate.ts";

/**
 * The metrics of 1-based `epoch`. As the pipeline: the row's epoch counts from 0, `lr` is
 * the rate after scheduler.step() (`nextLr`).
 */
export function epochMetrics(
  epoch: number,
  sums: PartialEpoch,
  val: ValidationResult | null,
  nextLr: number,
  task: Task,
  epochSeconds: number,
): EpochMetrics {
  return {
    epoch: epoch - 1,
    train_loss: sums.lossSum / sums.seen,
    train_acc: sums.correct / sums.seen,
    val_loss: val?.loss ?? NaN,
    val_acc: val?.accuracy ?? NaN,
    val_macro_f1: val?.macroF1 ?? NaN,
    lr: nextLr,
    ...(val === null
      ? (task.costMatrix ? { val_cost: NaN } : {})
      : val.cost === null
      ? {}
      : { val_cost: val.cost }),
    epoch_seconds: epochSeconds,
    ...(val ? {} : { validated: false }),
  };
}
