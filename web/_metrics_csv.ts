/**
 * `metrics.csv` as the training CLI writes it: the contract's columns, then the extras.
 *
 * @module
 */
import type { EpochMetrics } from "../src/train/hooks.ts";

/** Column order: the data contract's header, then `val_cost,epoch_seconds`. */
export const DEMO_METRICS_COLUMNS: readonly (keyof EpochMetrics)[] = Object.freeze([
  "epoch",
  "train_loss",
  "train_acc",
  "val_loss",
  "val_acc",
  "val_macro_f1",
  "lr",
  "val_cost",
  "epoch_seconds",
]);

/** The rows as CSV text with a header line; numbers in JavaScript's shortest round-trip form. */
export function demoMetricsCsv(rows: readonly EpochMetrics[]): string {
  const lines = [DEMO_METRICS_COLUMNS.join(",")];
  for (const row of rows) lines.push(DEMO_METRICS_COLUMNS.map((key) => String(row[key])).join(","));
  return lines.join("\n") + "\n";
}
