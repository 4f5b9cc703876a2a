/**
 * What the toolkit needs from MLflow, for both the local file store (`./mlruns`) and a
 * tracking server. `FileStore` and `RestStore` implement it the same way.
 *
 * @module
 */

/** MLflow run status names. */
export type MlflowRunStatus = "RUNNING" | "SCHEDULED" | "FINISHED" | "FAILED" | "KILLED";

/** MLflow's integer codes for run status, as stored in `meta.yaml`. */
export const MLFLOW_RUN_STATUS_CODES: Readonly<Record<MlflowRunStatus, number>> = Object.freeze({
  RUNNING: 1,
  SCHEDULED: 2,
  FINISHED: 3,
  FAILED: 4,
  KILLED: 5,
});

/** An experiment. */
export interface MlflowExperiment {
  experimentId: string;
  name: string;
  artifactLocation: string;
  lifecycleStage: string;
  /** The experiment's tags (absent when the store did not read them). */
  tags?: Record<string, string>;
}

/** A run's info block. */
export interface MlflowRunInfo {
  runId: string;
  experimentId: string;
  runName: string;
  userId: string;
  status: MlflowRunStatus;
  startTime: number;
  endTime: number | null;
  artifactUri: string;
  lifecycleStage: string;
}

/** A run with its params, tags and the latest value of each metric. */
export interface MlflowRun {
  info: MlflowRunInfo;
  params: Record<string, string>;
  tags: Record<string, string>;
  /** Latest value of each metric (highest step, then latest timestamp). */
  metrics: Record<string, number>;
  /** The data sets logged as the run's inputs (`log-inputs`). */
  inputs?: MlflowDatasetInput[];
  /** The logged models the run produced (`runs/outputs`). */
  outputs?: MlflowModelOutput[];
}

/** The tag of a dataset input that says what the run used it for. */
export const DATASET_CONTEXT_TAG = "mlflow.data.context";

/** A data set as MLflow records it (`mlflow.entities.Dataset`): every field a string. */
export interface MlflowDataset {
  name: string;
  /** At most 36 characters (MLflow's limit). */
  digest: string;
  /** Where it lives, e.g. `local` or `http`. */
  sourceType: string;
  /** JSON, e.g. `{"uri": "/data/train_sequences.npz"}`. */
  source: string;
  /** JSON (MLflow's `mlflow_tensorspec` or `mlflow_colspec` layout), or null. */
  schema: string | null;
  /** JSON object of summary numbers (the UI lists its entries), or null. */
  profile: string | null;
}

/** A data set used by a run, with the input's tags (`mlflow.data.context`). */
export interface MlflowDatasetInput {
  dataset: MlflowDataset;
  tags: Record<string, string>;
}

/** A logged model produced by a run, at the step (epoch) it comes from. */
export interface MlflowModelOutput {
  modelId: string;
  step: number;
}

/** MLflow 3's logged-model status names. */
export type LoggedModelStatus = "PENDING" | "READY" | "FAILED";

/** An MLflow 3 logged model (`m-...`). */
export interface MlflowLoggedModel {
  modelId: string;
  experimentId: string;
  name: string;
  /** Where its artifacts live (`mlflow-artifacts:/...` or `file://...`). */
  artifactLocation: string;
  sourceRunId: string | null;
  status: LoggedModelStatus;
  modelType: string | null;
  /** Milliseconds since the epoch. */
  creationTimestamp: number;
  params: Record<string, string>;
  tags: Record<string, string>;
  /** The model's metrics (the latest point of each key). */
  metrics: MlflowMetric[];
}

/** What to create a logged model with. */
export interface CreateLoggedModelOptions {
  experimentId: string;
  name: string;
  sourceRunId?: string;
  modelType?: string;
  params?: Readonly<Record<string, string>>;
  tags?: Readonly<Record<string, string>>;
}

/** One logged metric value. */
export interface MlflowMetric {
  key: string;
  value: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
  step: number;
}

/** One log-batch call's content. */
export interface MlflowBatch {
  metrics?: readonly MlflowMetric[];
  params?: Readonly<Record<string, string>>;
  tags?: Readonly<Record<string, string>>;
}

/** An artifact entry; `path` is relative to the run's artifact root. */
export interface MlflowArtifact {
  path: string;
  isDir: boolean;
  fileSize: number | null;
}

/** A registered model version. */
export interface MlflowModelVersion {
  name: string;
  version: string;
  source: string;
  runId: string;
  /** The logged model it was registered from (`models:/m-...`), when the store keeps it. */
  modelId?: string;
}

/** What {@link TrackingStore.updateRun} changes; fields left out stay as they are. */
export interface RunUpdate {
  status?: MlflowRunStatus;
  /** Milliseconds since the epoch. */
  endTime?: number;
  /** A new run name (also the `mlflow.runName` tag), as MLflow's `runs/update` sets it. */
  runName?: string;
}

/** Which runs {@link TrackingStore.searchRuns} returns. */
export interface SearchRunsOptions {
  /**
   * Only runs whose name starts with this text (a server may filter it in its query; the
   * result is exact either way).
   */
  runNamePrefix?: string;
  /** Only runs with all of these tags (key = value). */
  tags?: Readonly<Record<string, string>>;
}

/** What to create a run with. */
export interface CreateRunOptions {
  experimentId: string;
  runName: string;
  userId: string;
  /** Milliseconds since the epoch. */
  startTime: number;
  tags?: Readonly<Record<string, string>>;
}

/** MLflow tracking and registry operations, on `./mlruns` or a server. */
export interface TrackingStore {
  /** Human-readable location: the mlruns path or the server URI (never credentials). */
  readonly location: string;
  /** The experiment with that name (active or deleted), or null. */
  getExperimentByName(name: string): Promise<MlflowExperiment | null>;
  /** The experiment with that id, or null. */
  getExperiment(experimentId: string): Promise<MlflowExperiment | null>;
  /**
   * Creates an experiment with its tags in one call (a name taken already is an error:
   * RESOURCE_ALREADY_EXISTS on a server); returns its id.
   */
  createExperiment(name: string, tags?: Readonly<Record<string, string>>): Promise<string>;
  /** Marks an experiment deleted (its name stays taken until it is purged). */
  deleteExperiment(experimentId: string): Promise<void>;
  /** Creates a run in state RUNNING. */
  createRun(options: CreateRunOptions): Promise<MlflowRunInfo>;
  /** Sets a run's status, end time and/or name (what is given; all in one write). */
  updateRun(runId: string, update: RunUpdate): Promise<void>;
  /** One run; throws RangeError (file) or MlflowRequestError 404 (REST) when missing. */
  getRun(runId: string): Promise<MlflowRun>;
  /** Every active run of the experiments (or those `options` picks), newest first. */
  searchRuns(experimentIds: readonly string[], options?: SearchRunsOptions): Promise<MlflowRun[]>;
  /** Marks a run deleted. */
  deleteRun(runId: string): Promise<void>;
  /** Logs metrics, params and tags. */
  logBatch(runId: string, batch: MlflowBatch): Promise<void>;
  /** Every value of a metric, in logging order. */
  getMetricHistory(runId: string, key: string): Promise<MlflowMetric[]>;
  /** Uploads (or overwrites) one artifact file at a `/`-separated relative path. */
  uploadArtifact(runId: string, path: string, bytes: Uint8Array): Promise<void>;
  /** Direct children of an artifact folder ("" = root). */
  listArtifacts(runId: string, path?: string): Promise<MlflowArtifact[]>;
  /** An artifact file's bytes. */
  downloadArtifact(runId: string, path: string): Promise<Uint8Array>;
  /** Creates a registered model unless it exists. */
  createRegisteredModel(name: string): Promise<void>;
  /** Logs data sets as the run's inputs (a data set already logged to the run is kept once). */
  logInputs(runId: string, datasets: readonly MlflowDatasetInput[]): Promise<void>;
  /** Links logged models to the run as its outputs (a model already linked is kept once). */
  logOutputs(runId: string, outputs: readonly MlflowModelOutput[]): Promise<void>;
  /** Creates a logged model in state PENDING. */
  createLoggedModel(options: CreateLoggedModelOptions): Promise<MlflowLoggedModel>;
  /** One logged model; throws RangeError (file) or MlflowRequestError 404 (REST) when missing. */
  getLoggedModel(modelId: string): Promise<MlflowLoggedModel>;
  /** The logged models of the experiments (only those of `filter.sourceRunId` when given). */
  searchLoggedModels(
    experimentIds: readonly string[],
    filter?: { sourceRunId?: string },
  ): Promise<MlflowLoggedModel[]>;
  /** Uploads one file under the logged model's artifact location. */
  uploadLoggedModelArtifact(modelId: string, path: string, bytes: Uint8Array): Promise<void>;
  /** Logs metrics of the logged model, measured by run `runId`. */
  logLoggedModelMetrics(
    modelId: string,
    runId: string,
    metrics: readonly MlflowMetric[],
  ): Promise<void>;
  /** Sets a logged model's final status. */
  finalizeLoggedModel(modelId: string, status: "READY" | "FAILED"): Promise<void>;
  /**
   * Creates a model version from an artifact source of a run, or from a logged model
   * (`source` = `models:/<model id>`, `modelId` set), as `mlflow.register_model` does.
   */
  createModelVersion(
    name: string,
    source: string,
    runId: string | null,
    options?: { modelId?: string },
  ): Promise<MlflowModelVersion>;
  /** Points an alias at a version. */
  setRegisteredModelAlias(name: string, alias: string, version: string): Promise<void>;
  /** The version an alias points to, or null when the model or alias does not exist. */
  getModelVersionByAlias(name: string, alias: string): Promise<MlflowModelVersion | null>;
  /** Sets (or overwrites) a tag of a model version. */
  setModelVersionTag(name: string, version: string, key: string, value: string): Promise<void>;
  /** Replaces a model version's description. */
  updateModelVersionDescription(name: string, version: string, description: string): Promise<void>;
}

/** Returns the id of the active experiment with that name, creating it when missing. */
export async function getOrCreateExperiment(store: TrackingStore, name: string): Promise<string> {
  const found = await store.getExperimentByName(name);
  if (found !== null) {
    if (found.lifecycleStage !== "active") {
      throw new RangeError(
        `Cannot use experiment "${name}" in ${store.location}: it is ${found.lifecycleStage}; ` +
          `restore it (mlflow experiments restore --experiment-id ${found.experimentId}) ` +
          `or pick another experiment name`,
      );
    }
    return found.experimentId;
  }
  try {
    return await store.createExperiment(name);
  } catch (error) {
    // Another process may have created it meanwhile (RESOURCE_ALREADY_EXISTS): read it again.
    const again = await store.getExperimentByName(name);
    if (again !== null) return again.experimentId;
    throw error;
  }
}

/** The id of the active experiment with that name, or null when there is none. */
export async function findActiveExperimentId(
  store: TrackingStore,
  name: string,
): Promise<string | null> {
  const found = await store.getExperimentByName(name);
  return found === null || found.lifecycleStage !== "active" ? null : found.experimentId;
}

/** Every file under an artifact folder (recursive), paths relative to the run's root. */
export async function listArtifactFiles(
  store: TrackingStore,
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

const KEY_PATTERN = /^[/\w.\- :]*$/;

/** Checks a param/metric/tag key against MLflow's rules; throws TypeError when invalid. */
export function validateMlflowKey(kind: string, key: string): void {
  if (
    key.length === 0 || key.length > 250 || !KEY_PATTERN.test(key) || key.startsWith("/") ||
    key.split("/").some((part) => part === ".." || part === "." || part === "")
  ) {
    throw new TypeError(
      `Cannot log ${kind} "${key}": keys must match ${KEY_PATTERN.source}, be 1-250 ` +
        `characters, not start with "/" and not contain empty, "." or ".." segments`,
    );
  }
}
