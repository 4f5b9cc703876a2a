/**
 * Copies a whole run from one store to another (train offline into `./mlruns`, publish to a
 * server later): params, tags, every metric value with its step and timestamp, artifacts,
 * status, start and end times. The copy carries the source run's id as a tag, and a second
 * tag once everything was sent; a copy without it (a sync that failed half-way, or a source
 * run still running) is finished on the next copy, sending only what it lacks, and a
 * complete one is skipped.
 *
 * The registry is not copied: a `promotion.*` tag names a model version of the source's
 * registry, which the target does not have, so those tags are left out of the copy (and
 * reported); promote the copy on the target instead.
 *
 * @module
 */
import {
  getOrCreateExperiment,
  type MlflowMetric,
  type MlflowRun,
  type TrackingStore,
} from "./tracking_store.ts";

/** Tag put on the copy: the id of the run it was copied from. */
export const SOURCE_RUN_TAG = "toolkit.sync.source_run_id";

/** Tag set on the copy last, once everything was sent ("true"). */
export const SYNC_COMPLETE_TAG = "toolkit.sync.complete";

/** Prefix of the tags `deno task promote` sets, which the copy leaves out. */
export const PROMOTION_TAG_PREFIX = "promotion.";

/** What `copyRun` did. */
export interface CopyRunResult {
  sourceRunId: string;
  targetRunId: string;
  /**
   * `copied`: a new copy; `finished`: an incomplete copy completed; `skipped`: a complete
   * copy existed, nothing was sent.
   */
  outcome: "copied" | "finished" | "skipped";
  /** True when the copy is marked complete (false while the source run is still RUNNING). */
  complete: boolean;
  /** Metric values and artifact files sent by this call. */
  metrics: number;
  artifacts: number;
  /** Source tags left out of the copy (`promotion.*`). */
  droppedTags: string[];
}

const TERMINAL = new Set(["FINISHED", "FAILED", "KILLED"]);

/** One metric value as a comparable key (a server stores ±Infinity as ±Number.MAX_VALUE). */
function pointKey(m: MlflowMetric): string {
  const v = Math.abs(m.value) >= Number.MAX_VALUE ? Math.sign(m.value) * Infinity : m.value;
  return `${m.step} ${m.timestamp} ${v}`;
}

/** The source run's metric values that the target run lacks. */
async function missingMetrics(
  from: TrackingStore,
  run: MlflowRun,
  to: TrackingStore,
  targetRunId: string,
  fresh: boolean,
): Promise<MlflowMetric[]> {
  const out: MlflowMetric[] = [];
  for (const key of Object.keys(run.metrics)) {
    const source = await from.getMetricHistory(run.info.runId, key);
    const have = fresh
      ? new Set<string>()
      : new Set((await to.getMetricHistory(targetRunId, key)).map(pointKey));
    out.push(...source.filter((m) => !have.has(pointKey(m))));
  }
  return out;
}

/** Every artifact file of a run (relative path -> size in bytes, null when unknown). */
async function artifactSizes(
  store: TrackingStore,
  runId: string,
): Promise<Map<string, number | null>> {
  const out = new Map<string, number | null>();
  const walk = async (path: string): Promise<void> => {
    for (const entry of await store.listArtifacts(runId, path)) {
      if (entry.isDir) await walk(entry.path);
      else out.set(entry.path, entry.fileSize);
    }
  };
  await walk("");
  return out;
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
  const tags: Record<string, string> = {};
  const droppedTags: string[] = [];
  for (const [key, value] of Object.entries(run.tags)) {
    if (key.startsWith(PROMOTION_TAG_PREFIX)) droppedTags.push(key);
    else if (key !== SOURCE_RUN_TAG && key !== SYNC_COMPLETE_TAG) tags[key] = value;
  }
  const existing = (await to.searchRuns([experimentId]))
    .find((r) => r.tags[SOURCE_RUN_TAG] === runId);
  const result = (outcome: CopyRunResult["outcome"], targetRunId: string) => ({
    sourceRunId: runId,
    targetRunId,
    outcome,
    complete: outcome === "skipped",
    metrics: 0,
    artifacts: 0,
    droppedTags,
  });
  if (existing?.tags[SYNC_COMPLETE_TAG] === "true") {
    return result("skipped", existing.info.runId);
  }
  const target = existing?.info ?? await to.createRun({
    experimentId,
    runName: run.info.runName,
    userId: run.info.userId,
    startTime: run.info.startTime,
    tags: { ...tags, [SOURCE_RUN_TAG]: runId },
  });
  const done = result(existing ? "finished" : "copied", target.runId);
  const metrics = await missingMetrics(from, run, to, target.runId, !existing);
  await to.logBatch(target.runId, { params: run.params, tags: existing ? tags : {}, metrics });
  done.metrics = metrics.length;
  const have = existing ? await artifactSizes(to, target.runId) : new Map<string, number | null>();
  for (const [path, size] of await artifactSizes(from, runId)) {
    if (have.has(path) && have.get(path) === size) continue;
    await to.uploadArtifact(target.runId, path, await from.downloadArtifact(runId, path));
    done.artifacts++;
  }
  await to.updateRun(target.runId, {
    status: run.info.status,
    endTime: run.info.endTime ?? undefined,
  });
  // Complete only when the source run has ended: a running one may log more later.
  if (TERMINAL.has(run.info.status)) {
    await to.logBatch(target.runId, { tags: { [SYNC_COMPLETE_TAG]: "true" } });
    done.complete = true;
  }
  return done;
}
