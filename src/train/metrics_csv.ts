/**
 * `metrics.csv`: the one definition of its columns and number formatting, shared by the
 * CLI writer, the MLflow run logger and the browser demo.
 *
 * @module
 */
import type { EpochMetrics } from "./hooks.ts";

/** A column of `metrics.csv` (every numeric field of {@link EpochMetrics}). */
export type MetricsCsvColumn = Exclude<keyof EpochMetrics, "validated">;

/**
 * Columns of `metrics.csv` for a task with a cost matrix: the data contract's header, then
 * `val_cost,epoch_seconds`. Without a cost matrix `val_cost` is left out.
 */
export const METRICS_CSV_COLUMNS: readonly MetricsCsvColumn[] = Object.freeze([
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

/** The columns of `metrics.csv`: with `val_cost` only when the task has a cost matrix. */
export function metricsCsvColumns(withCost: boolean): readonly MetricsCsvColumn[] {
  return withCost ? METRICS_CSV_COLUMNS : METRICS_CSV_COLUMNS.filter((c) => c !== "val_cost");
}

/** The header line of `metrics.csv`, without a line break. */
export function metricsCsvHeader(withCost = true): string {
  return metricsCsvColumns(withCost).join(",");
}

/**
 * One epoch as a `metrics.csv` line (no line break); numbers in their shortest round-trip
 * form. `val_cost` is written when the row has one; the val columns of an epoch without
 * validation (`validated: false`) are empty.
 */
export function metricsCsvRow(m: Readonly<EpochMetrics>): string {
  return metricsCsvColumns(m.val_cost !== undefined).map((c) =>
    m.validated === false && c.startsWith("val_") ? "" : String(m[c])
  ).join(",");
}

/** The rows as `metrics.csv` text: header line, one line per row, each ending in `\n`. */
export function metricsCsv(rows: readonly Readonly<EpochMetrics>[], withCost?: boolean): string {
  const cost = withCost ?? (rows.length === 0 || rows[0].val_cost !== undefined);
  return [metricsCsvHeader(cost), ...rows.map(metricsCsvRow)].join("\n") + "\n";
}
