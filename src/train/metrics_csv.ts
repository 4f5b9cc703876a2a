/**
 * `metrics.csv`: the one definition of its columns and number formatting, shared by the
 * CLI writer, the MLflow run logger and the browser demo.
 *
 * @module
 */
import type { EpochMetrics } from "./hooks.ts";

/** A column of `metrics.csv` (every numeric field of {@link EpochMetrics}). */
export type MetricsCsvColumn = Exclude<keyof EpochMetrics, "validated">;

/** Columns of `metrics.csv`: the data contract's header, then `val_cost,epoch_seconds`. */
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

/** The header line of `metrics.csv`, without a line break. */
export function metricsCsvHeader(): string {
  return METRICS_CSV_COLUMNS.join(",");
}

/**
 * One epoch as a `metrics.csv` line (no line break); numbers in their shortest round-trip
 * form; the val columns of an epoch without validation (`validated: false`) empty.
 */
export function metricsCsvRow(m: Readonly<EpochMetrics>): string {
  return METRICS_CSV_COLUMNS.map((c) =>
    m.validated === false && c.startsWith("val_") ? "" : String(m[c])
  ).join(",");
}

/** The rows as `metrics.csv` text: header line, one line per row, each ending in `\n`. */
export function metricsCsv(rows: readonly Readonly<EpochMetrics>[]): string {
  return [metricsCsvHeader(), ...rows.map(metricsCsvRow)].join("\n") + "\n";
}
