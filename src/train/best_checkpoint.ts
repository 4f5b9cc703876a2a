/**
 * Which checkpoint is the best: the task's promotion metric, ties broken by the lower val
 * loss.
 *
 * @module
 */
import { lowerIsBetter, type PromotionMetric } from "../metrics/task.ts";
import type { BestSoFar } from "./checkpoint.ts";
import type { ValidationResult } from "./validate.ts";

/** The value of the promotion metric `metric` in a validation result. */
export function metricOf(val: ValidationResult, metric: PromotionMetric): number {
  if (metric === "val_macro_f1") return val.macroF1;
  if (metric === "val_acc") return val.accuracy;
  if (val.cost === null) {
    throw new RangeError(
      "Cannot pick the best checkpoint by val_cost: the task has no cost matrix",
    );
  }
  return val.cost;
}

/**
 * True when `candidate` beats `best`: a better promotion metric, or the same value and a
 * lower val loss (so a tiny val set that reaches macro-F1 1.0 early keeps improving).
 */
export function isBetterCheckpoint(candidate: BestSoFar, best: BestSoFar | null): boolean {
  if (best === null) return true;
  const lower = lowerIsBetter(candidate.metric as PromotionMetric);
  if (candidate.value !== best.value) {
    return lower ? candidate.value < best.value : candidate.value > best.value;
  }
  return candidate.valLoss < best.valLoss;
}
