/**
 * What `deno task evaluate --mlflow-run-id`, `promote` and `runs` need from MLflow, for
 * both the local file store (`./mlruns`) and a tracking server.
 *
 * @module
 */

/** One MLflow run with its latest metric values. */
export interface ReviewRun {
  runId: string;
  runName: string;
  experimentId: string;
  /** RUNNING, SCHEDULED, FINISHED, FAILED or KILLED. */
  status: string;
  startTime: number | null;
  endTime: number | null;
  artifactUri: string;
  params: Record<string, string>;
  tags: Record<string, string>;
  /** Latest value of each metric (highest step, then latest timestamp). */
  metrics: Record<string, number>;
}

/** One logged value of a metric. */
export interface ReviewMetricPoint {
  step: number;
  value: number;
  timestamp: number;
}

/** An artifact entry, path relative to the run's artifact root. */
export interface ReviewArtifact {
  path: string;
  isDir: boolean;
}

/** A registered model version as the registry reports it. */
export interface ReviewModelVersion {
  version: string;
  runId: string;
  source: string;
}

/** MLflow access for evaluation, promotion and run review. */
export interface ReviewStore {
  /** Human-readable location: the mlruns path or the server URI. */
  readonly location: string;
  /** Experiment id by name, or null when it does not exist. */
  experimentId(name: string): Promise<string | null>;
  /** Every active run of an experiment. */
  searchRuns(experimentId: string): Promise<ReviewRun[]>;
  /** One run by id; throws when it does not exist. */
  getRun(runId: string): Promise<ReviewRun>;
  /** Every value of a metric, in logging order. */
  metricHistory(runId: string, key: string): Promise<ReviewMetricPoint[]>;
  /** Direct children of an artifact folder ("" = root). */
  listArtifacts(runId: string, path: string): Promise<ReviewArtifact[]>;
  /** An artifact file's bytes. */
  readArtifact(runId: string, path: string): Promise<Uint8Array>;
  /** Uploads (or overwrites) an artifact file. */
  writeArtifact(runId: string, path: string, bytes: Uint8Array): Promise<void>;
  /** Logs metrics at one step and time. */
  logMetrics(
    runId: string,
    metrics: Record<string, number>,
    step: number,
    timestamp: number,
  ): Promise<void>;
  /** Sets a run tag. */
  setRunTag(runId: string, key: string, value: string): Promise<void>;
  /** The version an alias points to, or null when the model or alias does not exist. */
  modelVersionByAlias(model: string, alias: string): Promise<ReviewModelVersion | null>;
  /** Creates the registered model if needed, then a version; returns the version number. */
  createModelVersion(
    model: string,
    version: { source: string; runId: string; tags: Record<string, string>; description: string },
    timestamp: number,
  ): Promise<string>;
  /** Points an alias at a version. */
  setModelAlias(model: string, alias: string, version: string, timestamp: number): Promise<void>;
}

/** Every file under an artifact folder (recursive), paths relative to the run's root. */
export async function listArtifactFiles(
  store: ReviewStore,
  runId: string,
  path: string,
): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await store.listArtifacts(runId, path)) {
    if (entry.isDir) out.push(...(await listArtifactFiles(store, runId, entry.path)));
    else out.push(entry.path);
  }
  return out;
}
