/**
 * Copies a whole run from one store to another (train offline into `./mlruns`, publish to a
 * server later): params, tags, every metric value with its step and timestamp, artifacts,
 * status, start and end times. A run copied before is found by its source-run tag and
 * skipped.
 *
 * @module
 */
import { getOrCreateExperiment, type MlflowMetric, type TrackingStore } from "./tracking_store.ts";

/** Tag put on the copy: the id of the run it was copied from. */
export const SOURCE_RUN_TAG = "toolkit.sync.source_run_id";

/** What `copyRun` did. */
export interface CopyRunResult {
  sourceRunId: string;
  targetRunId: string;
  /** True when the run had been copied before and nothing was sent. */
  skipped: boolean;
  metrics: number;
  artifacts: number;
}

/** Copies run `runId` of `from` into experiment `experimentName` (default: same name) of `to`. */
export async function copyRun(
  from: TrackingStore,
  runId: string,
  to: TrackingStore,
  options: { experimentName?: string } = {},
): Promise<CopyRunResult> {
  const run = await from.getRun(runId);
  const sourceExp = await from.getExperiment(run.info.experimentId);
  const name = options.experimentName ?? sourceExp?.name;
  if (name === undefined) {
    throw new RangeError(
      `Cannot copy run ${runId}: its experiment ${run.info.experimentId} is missing in ${from.location}`,
    );
  }
  const experimentId = await getOrCreateExperiment(to, name);
  for (const existing of await to.searchRuns([experimentId])) {
    if (existing.tags[SOURCE_RUN_TAG] === runId) {
      return {
        sourceRunId: runId,
        targetRunId: existing.info.runId,
        skipped: true,
        metrics: 0,
        artifacts: 0,
      };
    }
  }
  const target = await to.createRun({
    experimentId,
    runName: run.info.runName,
    userId: run.info.userId,
    startTime: run.info.startTime,
    tags: { ...run.tags, [SOURCE_RUN_TAG]: runId },
  });
  const metrics: MlflowMetric[] = [];
  for (const key of Object.keys(run.metrics)) {
    metrics.push(...await from.getMetricHistory(runId, key));
  }
  await to.logBatch(target.runId, { params: run.params, metrics });
  let artifacts = 0;
  const walk = async (path: string): Promise<void> => {
    for (const entry of await from.listArtifacts(runId, path)) {
      if (entry.isDir) await walk(entry.path);
      else {
        await to.uploadArtifact(
          target.runId,
          entry.path,
          await from.downloadArtifact(runId, entry.path),
        );
        artifacts++;
      }
    }
  };
  await walk("");
  await to.updateRun(target.runId, {
    status: run.info.status,
    endTime: run.info.endTime ?? undefined,
  });
  return {
    sourceRunId: runId,
    targetRunId: target.runId,
    skipped: false,
    metrics: metrics.length,
    artifacts,
  };
}
