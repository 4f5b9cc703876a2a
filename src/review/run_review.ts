/**
 * Run review: the runs table of `deno task runs`, two runs compared, a run found by name.
 *
 * @module
 */
import {
  findActiveExperimentId,
  type MlflowRun,
  type TrackingStore,
} from "../tracking/tracking_store.ts";

/** One line of `deno task runs`. */
export interface RunRow {
  runId: string;
  runName: string;
  status: string;
  /** Epochs logged (points in the `val_macro_f1` history). */
  epochs: number;
  /** Best `val_macro_f1` over epochs (a sweep parent: its `best_val_macro_f1`); null when none. */
  valMacroF1: number | null;
  /** From the evaluation bundle (`eval_weighted_f1`); null when not evaluated. */
  weightedF1: number | null;
  /** `eval_accuracy`, else the latest `val_acc`. */
  accuracy: number | null;
  /** `eval_cost`, else the latest `val_cost`. */
  cost: number | null;
  /** "champion", "yes" (promoted before) or "". */
  promoted: string;
  /** The parent run (`mlflow.parentRunId`), e.g. a sweep's; null for a top-level run. */
  parentRunId: string | null;
  /** 0 for a top-level run, 1 for a child listed under its parent. */
  depth: number;
  /** The run's data set inputs as `name (context)`. */
  datasets: string[];
  /** The logged model the run produced (the latest step's), or null. */
  loggedModel: string | null;
}

/** Best value of a metric history (largest, or smallest with `lower`), or null when empty. */
export function bestMetricValue(
  points: readonly { value: number }[],
  lower = false,
): number | null {
  let best: number | null = null;
  for (const p of points) {
    if (!Number.isFinite(p.value)) continue;
    if (best === null || (lower ? p.value < best : p.value > best)) best = p.value;
  }
  return best;
}

/** Run tag set by `deno task promote` on every promoted run. */
export const PROMOTED_VERSION_TAG = "promotion.version";

/**
 * Finds a run by id or by name within an experiment. A name shared by several runs is an
 * error listing their ids.
 */
export async function resolveRun(
  store: TrackingStore,
  experimentName: string,
  ref: { runId?: string; runName?: string },
): Promise<MlflowRun> {
  if (ref.runId) return await store.getRun(ref.runId);
  const expId = await findActiveExperimentId(store, experimentName);
  if (expId === null) {
    throw new RangeError(
      `Cannot find run "${ref.runName}": experiment "${experimentName}" does not exist in ` +
        `${store.location}; name another experiment, or the run by its id`,
    );
  }
  const runs = (await store.searchRuns([expId])).filter((r) => r.info.runName === ref.runName);
  if (runs.length === 0) {
    throw new RangeError(
      `Cannot find run "${ref.runName}" in experiment "${experimentName}" at ${store.location}; ` +
        "deno task runs lists the run names",
    );
  }
  if (runs.length > 1) {
    throw new RangeError(
      `Cannot pick run "${ref.runName}": ${runs.length} runs share the name ` +
        `(${runs.map((r) => r.info.runId).join(", ")}); name the run by its id`,
    );
  }
  return runs[0];
}

/** Builds the rows of `deno task runs`, sorted by best val macro-F1 (missing last). */
export async function collectRunRows(
  store: TrackingStore,
  experimentId: string,
  registry: { model: string; alias: string },
): Promise<RunRow[]> {
  const champion = await store.getModelVersionByAlias(registry.model, registry.alias);
  const rows: RunRow[] = [];
  for (const run of await store.searchRuns([experimentId])) {
    const outputs = [...(run.outputs ?? [])].sort((a, b) => b.step - a.step);
    const { runId, runName, status } = run.info;
    const history = run.metrics.val_macro_f1 === undefined
      ? []
      : await store.getMetricHistory(runId, "val_macro_f1");
    const pick = (...keys: string[]) => {
      for (const k of keys) if (run.metrics[k] !== undefined) return run.metrics[k];
      return null;
    };
    rows.push({
      runId,
      runName,
      status,
      epochs: history.length,
      // A sweep's parent has no epochs: it carries its best child's value.
      valMacroF1: bestMetricValue(history) ?? run.metrics.best_val_macro_f1 ?? null,
      weightedF1: pick("eval_weighted_f1"),
      accuracy: pick("eval_accuracy", "val_acc"),
      cost: pick("eval_cost", "val_cost"),
      promoted: champion?.runId === runId
        ? "champion"
        : run.tags[PROMOTED_VERSION_TAG] !== undefined
        ? "yes"
        : "",
      parentRunId: run.tags["mlflow.parentRunId"] ?? null,
      depth: 0,
      datasets: (run.inputs ?? []).map((i) =>
        `${i.dataset.name} (${i.tags["mlflow.data.context"] ?? "?"})`
      ),
      loggedModel: outputs[0]?.modelId ?? null,
    });
  }
  return nestRuns(rows);
}

/**
 * Top-level runs by best val macro-F1 (a parent counts its best child's), each followed by
 * its children, also by val macro-F1; missing values last.
 */
function nestRuns(rows: RunRow[]): RunRow[] {
  const byF1 = (a: RunRow, b: RunRow) =>
    (b.valMacroF1 ?? -Infinity) - (a.valMacroF1 ?? -Infinity) ||
    (a.runName < b.runName ? -1 : a.runName > b.runName ? 1 : 0);
  const ids = new Set(rows.map((r) => r.runId));
  const children = new Map<string, RunRow[]>();
  for (const r of rows) {
    if (r.parentRunId !== null && ids.has(r.parentRunId) && r.parentRunId !== r.runId) {
      children.set(r.parentRunId, [...(children.get(r.parentRunId) ?? []), r]);
    }
  }
  const top = rows.filter((r) =>
    !(r.parentRunId !== null && children.get(r.parentRunId)?.includes(r))
  );
  const best = (r: RunRow) =>
    Math.max(
      r.valMacroF1 ?? -Infinity,
      ...(children.get(r.runId) ?? []).map((c) => c.valMacroF1 ?? -Infinity),
    );
  top.sort((a, b) => best(b) - best(a));
  return top.flatMap((r) => [
    r,
    ...(children.get(r.runId) ?? []).sort(byF1).map((c) => ({ ...c, depth: 1 })),
  ]);
}

/** A plain-text table; columns listed in `left` are left-aligned, the rest right-aligned. */
function table(header: string[], rows: string[][], left: readonly number[] = [0]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (left.includes(i) ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

const fmt = (v: number | null, digits = 4) => (v === null ? "-" : v.toFixed(digits));

/**
 * The runs table: name (children indented under their parent), status, epochs, macro-F1,
 * weighted F1, accuracy, cost, promoted, run id, logged model, data sets.
 */
export function formatRunsTable(rows: readonly RunRow[]): string {
  return table(
    [
      "run",
      "status",
      "epochs",
      "val macro-F1",
      "weighted F1",
      "accuracy",
      "cost",
      "promoted",
      "run id",
      "logged model",
      "data sets",
    ],
    rows.map((r) => [
      (r.depth > 0 ? "└ " : "") + (r.runName || "(unnamed)"),
      r.status,
      String(r.epochs),
      fmt(r.valMacroF1),
      fmt(r.weightedF1),
      fmt(r.accuracy),
      r.cost === null ? "-" : String(Math.round(r.cost)),
      r.promoted,
      r.runId,
      r.loggedModel ?? "-",
      r.datasets.length === 0 ? "-" : r.datasets.join(", "),
    ]),
    [0, 1, 7, 8, 9, 10],
  );
}

/**
 * `--compare A B`: the params whose values differ (missing shown as "-"), then every metric
 * side by side (latest values, plus the best val macro-F1 when given).
 */
export function formatRunComparison(
  a: MlflowRun,
  b: MlflowRun,
  best: { a: number | null; b: number | null } = { a: null, b: null },
): string {
  const nameA = a.info.runName || a.info.runId;
  const nameB = b.info.runName || b.info.runId;
  const paramKeys = [...new Set([...Object.keys(a.params), ...Object.keys(b.params)])].sort();
  const differing = paramKeys.filter((k) => a.params[k] !== b.params[k]);
  const metricKeys = [...new Set([...Object.keys(a.metrics), ...Object.keys(b.metrics)])].sort();
  const metricRows = metricKeys.map((k) => {
    const x = a.metrics[k];
    const y = b.metrics[k];
    const delta = x !== undefined && y !== undefined ? y - x : undefined;
    const show = (
      v: number | undefined,
    ) => (v === undefined ? "-" : String(Number(v.toPrecision(6))));
    return [k, show(x), show(y), delta === undefined ? "" : (delta > 0 ? "+" : "") + show(delta)];
  });
  if (best.a !== null || best.b !== null) {
    metricRows.unshift(["best val_macro_f1", fmt(best.a), fmt(best.b), ""]);
  }
  const parts = [
    `Comparing ${nameA} (${a.info.runId}) with ${nameB} (${b.info.runId})`,
    "",
    `Params that differ (${differing.length} of ${paramKeys.length}):`,
    differing.length === 0 ? "  (none)" : table(
      ["param", nameA, nameB],
      differing.map((k) => [k, a.params[k] ?? "-", b.params[k] ?? "-"]),
    ),
    "",
    "Metrics (latest values; delta = B - A):",
    table(["metric", nameA, nameB, "delta"], metricRows),
  ];
  return parts.join("\n");
}
