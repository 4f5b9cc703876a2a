/**
 * "Start a tracked training": opens the MLflow run of a training (experiment created if
 * missing, run named by the team's convention without a race, params and tags logged), or
 * continues the run a resumed checkpoint belongs to, and connects the training loop's hooks
 * to a non-blocking {@link RunLogger}: epoch metrics (step = epoch), checkpoint files as
 * artifacts, final artifacts and the end status. Used by the CLI's train job and by the
 * browser demo alike; the store and the spool are injected.
 *
 * @module
 */
import { MlflowRequestError } from "../tracking/mlflow_request_error.ts";
import { createNamedRun, runNamePrefix } from "../tracking/run_name.ts";
import { RunLogger, type RunLoggerSummary } from "../tracking/run_logger.ts";
import { replaySpool, type SpoolSink } from "../tracking/spool.ts";
import {
  getOrCreateExperiment,
  type MlflowRun,
  type MlflowRunInfo,
  type TrackingStore,
} from "../tracking/tracking_store.ts";
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
  /**
   * A resumed training: the run its checkpoint belongs to (null when it was not tracked) and
   * the epochs the checkpoint holds. That run is continued when it can be (see
   * {@link startTrackedTraining}); otherwise a new run starts and `log` says why.
   */
  resume?: { readonly run: { runId: string; experimentId: string } | null; readonly epoch: number };
}

/** Tag of a run started by a resumed training that could not continue its checkpoint's run. */
export const RESUMED_FROM_RUN_TAG = "toolkit.resumed_from_run_id";

/** An open, tracked training. */
export interface TrackedTraining {
  readonly runId: string;
  readonly runName: string;
  readonly experimentId: string;
  /** True when a resumed training continues its checkpoint's run (no new run was made). */
  readonly continued: boolean;
  /** Tracking URI or mlruns path, without credentials. */
  readonly location: string;
  readonly logger: RunLogger;
  /** Subscribe these to the training loop (after any hook that writes files it uploads). */
  readonly hooks: TrainHooks;
  /** Resolves with the logger's counters once the run has ended. */
  readonly ended: Promise<RunLoggerSummary>;
}

/**
 * Why the run a checkpoint belongs to cannot be continued, or null when it can: it must be
 * in this store, active, in the requested experiment, and hold no epoch after the
 * checkpoint's (MLflow cannot remove logged steps, so resuming from an older checkpoint such
 * as `best/` would duplicate them). Unsent records of the run left in its spool are sent
 * first, so that the check sees them.
 */
async function cannotContinue(
  options: TrackedTrainingOptions,
  experimentId: string,
): Promise<string | null> {
  const { store } = options;
  const ref = options.resume?.run;
  if (!ref) return "the checkpoint belongs to no MLflow run (trained without tracking)";
  let run: MlflowRun;
  try {
    run = await store.getRun(ref.runId);
  } catch (error) {
    const missing = error instanceof RangeError ||
      (error instanceof MlflowRequestError && error.errorCode === "RESOURCE_DOES_NOT_EXIST");
    if (!missing) throw error;
    return `its run ${ref.runId} is not in ${store.location} (a checkpoint from another store?)`;
  }
  if (run.info.lifecycleStage !== "active") return `its run ${ref.runId} is deleted`;
  if (run.info.experimentId !== ref.experimentId) {
    return `run ${ref.runId} in ${store.location} is in experiment ${run.info.experimentId}, ` +
      `the checkpoint's in ${ref.experimentId} (a checkpoint from another store?)`;
  }
  if (run.info.experimentId !== experimentId) {
    return `its run ${ref.runId} is in experiment ${run.info.experimentId}, not in ` +
      `"${options.experiment}"`;
  }
  const spool = options.spool?.({ runId: ref.runId, experimentId });
  if (spool) await replaySpool(store, ref.runId, spool);
  // Steps are 0-based epochs (train_loss is logged with or without validation); the
  // checkpoint's epoch counts the epochs it has finished.
  const steps = (await store.getMetricHistory(ref.runId, "train_loss")).map((m) => m.step);
  const held = steps.length === 0 ? 0 : Math.max(...steps) + 1;
  if (held > options.resume!.epoch) {
    return `its run ${ref.runId} already holds ${held} epochs, the checkpoint ` +
      `${options.resume!.epoch} (MLflow cannot remove logged steps)`;
  }
  return null;
}

/**
 * Creates the experiment if needed and the run (or continues a resumed checkpoint's run:
 * status back to RUNNING, params and name kept), and returns its hooks. Epoch metrics are
 * sent once that epoch's `last` checkpoint is written, so the run never holds an epoch its
 * checkpoint lacks.
 */
export async function startTrackedTraining(
  options: TrackedTrainingOptions,
): Promise<TrackedTraining> {
  const { store } = options;
  const log = options.log ?? (() => {});
  const clock = options.clock ?? Date.now;
  const experimentId = await getOrCreateExperiment(store, options.experiment);
  let run: MlflowRunInfo | null = null;
  const tags: Record<string, string> = { ...options.tags };
  if (options.resume) {
    const why = await cannotContinue(options, experimentId);
    if (why === null) {
      const ref = options.resume.run!;
      await store.updateRun(ref.runId, { status: "RUNNING" });
      run = (await store.getRun(ref.runId)).info;
      log(
        `MLflow: continuing run ${run.runName} (${run.runId}) after epoch ${options.resume.epoch}`,
      );
    } else {
      log(`MLflow: starting a new run: cannot continue the checkpoint's run: ${why}`);
      if (options.resume.run) tags[RESUMED_FROM_RUN_TAG] = options.resume.run.runId;
    }
  }
  const continued = run !== null;
  if (run === null) {
    const base = { experimentId, userId: options.userId, startTime: clock(), tags };
    if (options.runName !== "") {
      run = await store.createRun({ ...base, runName: options.runName });
    } else {
      const { dataVersion, windowSize, modelTag } = options.naming;
      const prefix = runNamePrefix(dataVersion, windowSize, modelTag);
      run = await createNamedRun(store, { ...base, prefix }, { clock });
    }
    await store.logBatch(run.runId, { params: options.params });
  }
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
  const runInfo = run;
  log(
    `MLflow: run ${run.runName} (${run.runId}) in experiment ${options.experiment} at ${store.location}`,
  );
  let resolveEnded!: (summary: RunLoggerSummary) => void;
  const ended = new Promise<RunLoggerSummary>((resolve) => (resolveEnded = resolve));
  // An epoch's metrics wait for its `last` checkpoint: a kill in between leaves neither.
  let unsent: EpochMetrics | null = null;
  const hooks: TrainHooks = {
    onEpochEnd(metrics) {
      rows.push({ ...metrics });
      unsent = { ...metrics };
    },
    onCheckpoint({ kind, epoch, files, pt }) {
      // The metrics' epoch counts from 0, as the pipeline's; a checkpoint's finished epochs.
      if (kind === "last" && unsent !== null && unsent.epoch === epoch - 1) {
        const values: Record<string, number> = {};
        for (const key of METRICS_CSV_COLUMNS) {
          const value = unsent[key];
          // A run without validation logs no val_* metrics, as the pipeline.
          const skip = key === "epoch" || (unsent.validated === false && key.startsWith("val_"));
          if (!skip && value !== undefined) values[key] = value;
        }
        logger.logMetrics(values, unsent.epoch);
        unsent = null;
      }
      for (const [name, bytes] of Object.entries(files)) {
        logger.logArtifact(`checkpoints/${kind}/${name}`, bytes);
      }
      // The pipeline's own artifacts, at the root: last.pt, best.pt.
      if (pt) logger.logArtifact(`${kind}.pt`, pt);
    },
    async onEnd(result) {
      const summary = await logger.end(result.status);
      log(
        `MLflow: run ${runInfo.runName} ${result.status}; ${summary.sent} records sent` +
          (summary.spooled > 0 ? `, ${summary.spooled} not sent yet` : ""),
      );
      resolveEnded(summary);
    },
  };
  return {
    runId: run.runId,
    runName: run.runName,
    experimentId,
    continued,
    location: store.location,
    logger,
    hooks,
    ended,
  };
}
