/**
 * A sweep's parent run on the shared tracking server, which is the only coordination point
 * between the machines of a sharded sweep:
 *
 * - **One parent, race-free.** Every shard creates a candidate parent run, then tries to
 *   create the sweep's lock: an experiment named `<experiment>.sweep-lock.<sweep id>` whose
 *   tag names the candidate, in one call. The server's unique experiment names let exactly
 *   one shard win; the others read the winner's parent from the lock's tag and delete their
 *   candidate. The lock is then marked deleted (out of the UI; its name stays taken, so a
 *   rerun of a shard finds the same parent).
 * - **Trials already done are skipped**: a child run (tag `mlflow.parentRunId`) with the
 *   trial's number that FINISHED.
 * - **The summary**: every shard, when its trials are done, compares all children so far and
 *   logs the best child's val macro-F1 and a comparison table (`sweep_results.csv`) to the
 *   parent; the shard that sees every trial ended links the best child's logged model to the
 *   parent's outputs and ends the parent.
 *
 * @module
 */
import { RunLogger } from "../tracking/run_logger.ts";
import {
  getOrCreateExperiment,
  type MlflowRun,
  type TrackingStore,
} from "../tracking/tracking_store.ts";
import { bestChild, type SweepChild, sweepResultsCsv } from "./sweep.ts";

/** Tags of a sweep's runs. */
export const SWEEP_TAGS = Object.freeze({
  /** On the parent, the children and the lock: the sweep's id. */
  id: "sweep.id",
  /** On a child: its 1-based trial number. */
  trial: "sweep.trial",
  /** On the lock: the parent run. */
  parent: "sweep.parent_run_id",
  parentOf: "mlflow.parentRunId",
});

/** What the parent run is opened with. */
export interface SweepParentOptions {
  readonly experiment: string;
  readonly sweepId: string;
  readonly runName: string;
  readonly userId: string;
  /** Tags of the parent (MLflow's user and source tags, ...). */
  readonly tags: Readonly<Record<string, string>>;
  /** Params of the parent (the sweep's definition). */
  readonly params: Readonly<Record<string, string>>;
  /** Milliseconds since the epoch (default Date.now). */
  readonly clock?: () => number;
}

/** The sweep's parent run. */
export interface SweepParent {
  readonly experimentId: string;
  readonly run: MlflowRun;
  /** True when this call created it (this shard won the lock). */
  readonly created: boolean;
}

/** The name of a sweep's lock experiment. */
export function sweepLockName(experiment: string, sweepId: string): string {
  return `${experiment}.sweep-lock.${sweepId}`;
}

async function parentFromLock(
  store: TrackingStore,
  lockName: string,
): Promise<MlflowRun | null> {
  const lock = await store.getExperimentByName(lockName);
  const id = lock?.tags?.[SWEEP_TAGS.parent];
  if (id === undefined) return null;
  const run = await store.getRun(id);
  if (run.info.lifecycleStage !== "active") {
    throw new RangeError(
      `Cannot join sweep ${lockName}: its parent run ${id} was deleted; restore it ` +
        "(mlflow runs restore) or start a new sweep with --sweep-id",
    );
  }
  return run;
}

/** Finds the sweep's parent run, or creates it: exactly one wins however many shards race. */
export async function openSweepParent(
  store: TrackingStore,
  options: SweepParentOptions,
): Promise<SweepParent> {
  const experimentId = await getOrCreateExperiment(store, options.experiment);
  const lockName = sweepLockName(options.experiment, options.sweepId);
  const found = await parentFromLock(store, lockName);
  if (found !== null) return { experimentId, run: found, created: false };
  const candidate = await store.createRun({
    experimentId,
    runName: options.runName,
    userId: options.userId,
    startTime: (options.clock ?? Date.now)(),
    tags: { ...options.tags, [SWEEP_TAGS.id]: options.sweepId },
  });
  let lockId: string;
  try {
    lockId = await store.createExperiment(lockName, {
      [SWEEP_TAGS.parent]: candidate.runId,
      [SWEEP_TAGS.id]: options.sweepId,
    });
  } catch (error) {
    const winner = await parentFromLock(store, lockName);
    if (winner === null) {
      await store.deleteRun(candidate.runId).catch(() => {});
      throw error;
    }
    await store.deleteRun(candidate.runId);
    return { experimentId, run: winner, created: false };
  }
  await store.logBatch(candidate.runId, { params: options.params });
  await store.deleteExperiment(lockId); // hidden from the UI; the name stays taken
  return { experimentId, run: await store.getRun(candidate.runId), created: true };
}

/** The sweep's child runs so far, one per trial (the latest when a trial ran twice). */
export async function sweepChildren(
  store: TrackingStore,
  parent: SweepParent,
  sweptParams: readonly string[],
): Promise<SweepChild[]> {
  const runs = await store.searchRuns([parent.experimentId], {
    tags: { [SWEEP_TAGS.parentOf]: parent.run.info.runId },
  });
  const byTrial = new Map<number, MlflowRun>();
  for (const r of runs) {
    const trial = Number(r.tags[SWEEP_TAGS.trial]);
    if (!Number.isInteger(trial) || trial < 1) continue;
    const seen = byTrial.get(trial);
    // Prefer a finished run, then the newest (searchRuns lists newest first).
    if (seen === undefined || (seen.info.status !== "FINISHED" && r.info.status === "FINISHED")) {
      byTrial.set(trial, r);
    }
  }
  const out: SweepChild[] = [];
  for (const [trial, r] of [...byTrial].sort((a, b) => a[0] - b[0])) {
    const history = r.metrics.val_macro_f1 === undefined
      ? []
      : await store.getMetricHistory(r.info.runId, "val_macro_f1");
    const finite = history.map((m) => m.value).filter(Number.isFinite);
    out.push({
      trial,
      runId: r.info.runId,
      runName: r.info.runName,
      status: r.info.status,
      params: Object.fromEntries(sweptParams.map((k) => [k, r.params[k] ?? ""])),
      epochs: history.length,
      bestValMacroF1: finite.length === 0 ? null : Math.max(...finite),
      valCost: r.metrics.val_cost ?? null,
    });
  }
  return out;
}

/** The logged model a child run produced (its latest), or undefined. */
async function bestChildModel(
  store: TrackingStore,
  runId: string,
): Promise<{ modelId: string; step: number } | undefined> {
  const outputs = (await store.getRun(runId)).outputs ?? [];
  return [...outputs].sort((a, b) => b.step - a.step)[0];
}

/** What {@link summarizeSweep} logged. */
export interface SweepSummary {
  readonly children: readonly SweepChild[];
  readonly best: SweepChild | null;
  /** The parent's status after the summary (RUNNING while trials remain). */
  readonly status: string;
}

/**
 * Logs the comparison of all children so far to the parent: `best_val_macro_f1` (step =
 * finished children), tags naming the best child, `sweep_results.csv`; once every trial has
 * ended, links the best child's logged model as the parent's output and ends the parent
 * (FINISHED, or FAILED when a trial did not finish).
 */
export async function summarizeSweep(
  store: TrackingStore,
  parent: SweepParent,
  totalTrials: number,
  sweptParams: readonly string[],
  clock: () => number = Date.now,
): Promise<SweepSummary> {
  const children = await sweepChildren(store, parent, sweptParams);
  const best = bestChild(children);
  const runId = parent.run.info.runId;
  const finished = children.filter((c) => c.status === "FINISHED").length;
  const logger = new RunLogger({ store, runId, clock, endTimeoutMs: 30_000 });
  if (best !== null) {
    logger.logMetrics({ best_val_macro_f1: best.bestValMacroF1! }, finished);
    logger.logTags({
      "sweep.best_run_id": best.runId,
      "sweep.best_run_name": best.runName,
      "sweep.best_trial": String(best.trial),
    });
  }
  logger.logTags({ "sweep.finished_trials": `${finished}/${totalTrials}` });
  logger.logArtifact(
    "sweep_results.csv",
    new TextEncoder().encode(sweepResultsCsv(children, sweptParams)),
  );
  const ended = children.filter((c) => c.status !== "RUNNING" && c.status !== "SCHEDULED");
  let status = "RUNNING";
  if (ended.length >= totalTrials) {
    // The sweep's result is its best child's model: the parent lists it among its outputs
    // (once, at the end: outputs cannot be taken back).
    const model = best === null ? undefined : await bestChildModel(store, best.runId);
    if (model !== undefined) await store.logOutputs(runId, [model]);
    status = finished >= totalTrials ? "FINISHED" : "FAILED";
    await logger.end(status as "FINISHED" | "FAILED");
  } else if (!(await logger.flush())) {
    throw new Error(`Cannot log the sweep summary to parent run ${runId} at ${store.location}`);
  }
  return { children, best, status };
}
