/**
 * Opens the MLflow run of a training: experiment created if missing, run named by the
 * team's convention, params = every resolved flag (credentials stripped), tags.
 *
 * @module
 */
import { configToParams, type TrainConfig } from "../train/config.ts";
import { redactUri } from "./tracking_uri.ts";
import { nextRunName, runNamePrefix } from "./run_name.ts";
import { getOrCreateExperiment, type MlflowRunInfo, type TrackingStore } from "./tracking_store.ts";

/** What `startTrackedRun` needs. */
export interface StartTrackedRunOptions {
  store: TrackingStore;
  config: TrainConfig;
  /** Window length read from the data (the `l128` of the run name). */
  windowSize: number;
  /** MLflow system tags and ours; `mlflow.runName` is added. */
  tags: Readonly<Record<string, string>>;
  userId: string;
  /** Milliseconds since the epoch (default Date.now). */
  clock?: () => number;
}

/** The run's params: `configToParams(config)` with any credentials removed from URIs. */
export function trackingParams(config: TrainConfig): Record<string, string> {
  const params = configToParams(config);
  for (const [key, value] of Object.entries(params)) {
    if (/^[a-z][a-z0-9+.-]*:\/\/[^/@]*@/i.test(value)) params[key] = redactUri(value);
  }
  return params;
}

/** Creates the experiment if needed and the run; logs params. */
export async function startTrackedRun(
  options: StartTrackedRunOptions,
): Promise<{ experimentId: string; run: MlflowRunInfo }> {
  const { store, config } = options;
  const experimentId = await getOrCreateExperiment(store, config.mlflowExperiment);
  let runName = config.mlflowRunName;
  if (runName === "") {
    const prefix = runNamePrefix(config.dataVersion, options.windowSize, config.modelTag);
    const existing = await store.searchRuns([experimentId]);
    runName = nextRunName(prefix, existing.map((r) => r.info.runName));
  }
  const run = await store.createRun({
    experimentId,
    runName,
    userId: options.userId,
    startTime: (options.clock ?? Date.now)(),
    tags: options.tags,
  });
  await store.logBatch(run.runId, { params: trackingParams(config) });
  return { experimentId, run };
}
