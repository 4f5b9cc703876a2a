/** Predictions read back from a `predictions.csv` (`vehicle_id,label,pred,p0..pK-1`). */
export interface PredictionsTable {
  vehicleIds: number[];
  labels: number[];
  probabilities: number[][];
  /** The temperature-scaled probabilities, when the file has `cal_p0..cal_pK-1` columns. */
  calibratedProbabilities?: number[][];
}

/**
 * Parses the bundle's `predictions.csv` (or any CSV with `label` and `p0..pK-1` columns;
 * `vehicle_id`, `pred`, `cal_p0..cal_pK-1` and `pred_min_cost` are optional), so an earlier
 * bundle can be re-evaluated.
 */
export function parsePredictionsCsv(text: string, source = "predictions.csv"): PredictionsTable {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length < 2) {
    throw new SyntaxError(
      `Cannot read predictions ${source}: expected a header and at least one row, ` +
        `received ${lines.length} non-empty line(s)`,
    );
  }
  const header = lines[0].split(",").map((h) => h.trim());
  const labelCol = header.indexOf("label");
  const idCol = header.indexOf("vehicle_id");
  const probCols: number[] = [];
  for (let j = 0; header.includes(`p${j}`); j++) probCols.push(header.indexOf(`p${j}`));
  if (labelCol < 0 || probCols.length < 2) {
    throw new SyntaxError(
      `Cannot read predictions ${source}: the header needs "label" and "p0", "p1", ... columns, ` +
        `received "${lines[0]}"`,
    );
  }
  const calCols = probCols.map((_, j) => header.indexOf(`cal_p${j}`));
  const calibrated = calCols.every((c) => c >= 0);
  const out: PredictionsTable = { vehicleIds: [], labels: [], probabilities: [] };
  if (calibrated) out.calibratedProbabilities = [];
  for (let i = 1; i < lines.length; i++) {
    const cells = lines[i].split(",");
    const num = (col: number, name: string): number => {
      const v = Number(cells[col]);
      if (cells[col] === undefined || cells[col].trim() === "" || !Number.isFinite(v)) {
        throw new SyntaxError(
          `Cannot read predictions ${source}: line ${i + 1} column "${name}" is ` +
            `"${cells[col] ?? ""}", expected a finite number`,
        );
      }
      return v;
    };
    out.labels.push(num(labelCol, "label"));
    out.vehicleIds.push(idCol >= 0 ? num(idCol, "vehicle_id") : i - 1);
    out.probabilities.push(probCols.map((c, j) => num(c, `p${j}`)));
    if (calibrated) out.calibratedProbabilities!.push(calCols.map((c, j) => num(c, `cal_p${j}`)));
  }
  return out;
}
