/**
 * "Start a tracked training": opens the MLflow run of a training (experiment created if
 * missing, run named by the team's convention, params and tags logged) and connects the
 * training loop's hooks to a non-blocking {@link RunLogger}: epoch metrics (step = epoch),
 * checkpoint files as artifacts, final artifacts and the end status. Used by the CLI's
 * train job and by the browser demo alike; the store and the spool are injected.
 *
 * @module
 */
import { nextRunName, runNamePrefix } from "../tracking/run_name.ts";
import { RunLogger, type RunLoggerSummary } from "../tracking/run_logger.ts";
import type { SpoolSink } from "../tracking/spool.ts";
import { getOrCreateExperiment, type TrackingStore } from "../tracking/tracking_store.ts";
import type { EpochMetrics, TrainHooks } from "../train/hooks.ts";
import { METRICS_CSV_COLUMNS, metricsCsv } from "../train/metrics_csv.ts";

/** What {@link startTrackedTraining} needs. */
export interface TrackedTrainingOptions {
  store: TrackingStore;
  /** Experiment name; created when missing. */
  experiment: string;
  /** Run name; "" = `{dataVersion}-l{windowSize}-{modelTag}-run{N}`, N one more than taken. */
  runName: string;
  /** The parts of a generated run name. */
  naming: { dataVersion: string; windowSize: number; modelTag: string };
  /** MLflow params (see `trainingParams`). */
  params: Readonly<Record<string, string>>;
  /** MLflow system tags and ours (see `trainingRunTags`); `mlflow.runName` is added. */
  tags: Readonly<Record<string, string>>;
  userId: string;
  /** Where unsent records wait, for the created run (memory by default). */
  spool?: (run: { runId: string; experimentId: string }) => SpoolSink;
  /**
   * Files uploaded when the run ends; receives the `metrics.csv` text of the epochs seen,
   * for callers that keep no file of their own.
   */
  finalArtifacts?: (metricsCsvText: string) => Promise<Record<string, Uint8Array>>;
  /** How long the end keeps retrying a down server before leaving the spool (default 60 s). */
  endTimeoutMs?: number;
  /** Progress and warning lines (run opened, sending failed, run ended). */
  log?: (line: string) => void;
  /** Milliseconds since the epoch (default Date.now). */
  clock?: () => number;
}

/** An open, tracked training. */
export interface TrackedTraining {
  readonly runId: string;
  readonly runName: string;
  readonly experimentId: string;
  /** Tracking URI or mlruns path, without credentials. */
  readonly location: string;
  readonly logger: RunLogger;
  /** Subscribe these to the training loop (after any hook that writes files it uploads). */
  readonly hooks: TrainHooks;
  /** Resolves with the logger's counters once the run has ended. */
  readonly ended: Promise<RunLoggerSummary>;
}

/** Creates the experiment if needed and the run, logs params, and returns its hooks. */
export async function startTrackedTraining(
  options: TrackedTrainingOptions,
): Promise<TrackedTraining> {
  const { store } = options;
  const log = options.log ?? (() => {});
  const experimentId = await getOrCreateExperiment(store, options.experiment);
  let runName = options.runName;
  if (runName === "") {
    const { dataVersion, windowSize, modelTag } = options.naming;
    const existing = await store.searchRuns([experimentId]);
    runName = nextRunName(
      runNamePrefix(dataVersion, windowSize, modelTag),
      existing.map((r) => r.info.runName),
    );
  }
  const run = await store.createRun({
    experimentId,
    runName,
    userId: options.userId,
    startTime: (options.clock ?? Date.now)(),
    tags: options.tags,
  });
  await store.logBatch(run.runId, { params: options.params });
  const rows: EpochMetrics[] = [];
  const logger = new RunLogger({
    store,
    runId: run.runId,
    spool: options.spool?.({ runId: run.runId, experimentId }),
    endTimeoutMs: options.endTimeoutMs,
    onWarning: log,
    clock: options.clock,
    finalArtifacts: () => options.finalArtifacts?.(metricsCsv(rows)) ?? Promise.resolve({}),
  });
  log(
    `MLflow: run ${run.runName} (${run.runId}) in experiment ${options.experiment} at ${store.location}`,
  );
  let resolveEnded!: (summary: RunLoggerSummary) => void;
  const ended = new Promise<RunLoggerSummary>((resolve) => (resolveEnded = resolve));
  const hooks: TrainHooks = {
    onEpochEnd(metrics) {
      rows.push({ ...metrics });
      const values: Record<string, number> = {};
      for (const key of METRICS_CSV_COLUMNS) {
        const value = metrics[key];
        if (key !== "epoch" && value !== undefined) values[key] = value;
      }
      logger.logMetrics(values, metrics.epoch);
    },
    onCheckpoint({ kind, files }) {
      for (const [name, bytes] of Object.entries(files)) {
        logger.logArtifact(`checkpoints/${kind}/${name}`, bytes);
      }
    },
    async onEnd(result) {
      const summary = await logger.end(result.status);
      log(
        `MLflow: run ${run.runName} ${result.status}; ${summary.sent} records sent` +
          (summary.spooled > 0 ? `, ${summary.spooled} not sent yet` : ""),
      );
      resolveEnded(summary);
    },
  };
  return {
    runId: run.runId,
    runName: run.runName,
    experimentId,
    location: store.location,
    logger,
    hooks,
    ended,
  };
}
