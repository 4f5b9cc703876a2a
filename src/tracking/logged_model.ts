/**
 * Logs an MLflow 3 logged model of a run the way Python's `log_model` does: create it
 * (PENDING, with params and tags), upload its files and an `MLmodel` file under its artifact
 * location, log the run's metrics of the step it comes from against it (the same points,
 * timestamps included, so a server keeps one copy in the run's history), link it to the
 * run's outputs at that step, and finalize it READY (FAILED when a request is refused).
 * Replaying the same record (from a spool) finishes the model it started (found by the
 * record's id in a model tag) instead of making a second one.
 *
 * @module
 */
import { dumpYaml, type YamlMapping } from "./_yaml.ts";
import type { MlflowLoggedModel, MlflowMetric, TrackingStore } from "./tracking_store.ts";

/** A value of an `MLmodel` flavor's settings. */
export type MlmodelValue = string | number | boolean | null | { [key: string]: MlmodelValue };

/** The model tag that ties a logged model to the record it was made from. */
export const LOGGED_MODEL_RECORD_TAG = "toolkit.logged_model_record";

/** Everything one logged model consists of; plain data, so that a spool can keep it. */
export interface LoggedModelRecord {
  /** Unique per record (a UUID): a replay of the record finishes the model it started. */
  readonly recordId: string;
  readonly name: string;
  readonly modelType?: string;
  readonly params: Readonly<Record<string, string>>;
  readonly tags: Readonly<Record<string, string>>;
  /** The `MLmodel` file's `flavors` mapping: flavor name -> its settings. */
  readonly flavors: Readonly<Record<string, MlmodelValue>>;
  /** The model's artifacts: relative path -> bytes (`MLmodel` is written from `flavors`). */
  readonly files: Readonly<Record<string, Uint8Array>>;
  /** The step (epoch) the model comes from: the run's metrics at it become the model's. */
  readonly step: number;
}

/** The `MLmodel` file of a logged model, as MLflow writes it (YAML, sorted keys). */
export function mlmodelYaml(
  model: Pick<MlflowLoggedModel, "modelId" | "artifactLocation" | "sourceRunId">,
  flavors: Readonly<Record<string, MlmodelValue>>,
  createdAt: Date,
): string {
  return dumpYaml({
    artifact_path: model.artifactLocation,
    flavors: flavors as YamlMapping,
    model_id: model.modelId,
    model_uuid: model.modelId,
    run_id: model.sourceRunId,
    // Python's MLmodel writes str(datetime.utcnow()): "YYYY-MM-DD HH:MM:SS.ffffff".
    utc_time_created: createdAt.toISOString().replace("T", " ").replace("Z", "000"),
  });
}

/**
 * Logs `record` as a logged model of run `runId`; returns the model (READY).
 *
 * @example
 * ```ts ignore
 * const model = await logModel(store, runId, { recordId: crypto.randomUUID(), name: "best", flavors, files, step: 3, params: {}, tags: {} });
 * console.log(`models:/${model.modelId}`);
 * ```
 */
export async function logModel(
  store: TrackingStore,
  runId: string,
  record: LoggedModelRecord,
  clock: () => number = Date.now,
): Promise<MlflowLoggedModel> {
  const run = await store.getRun(runId);
  const experimentId = run.info.experimentId;
  const earlier = (await store.searchLoggedModels([experimentId], { sourceRunId: runId }))
    .find((m) => m.tags[LOGGED_MODEL_RECORD_TAG] === record.recordId);
  if (earlier?.status === "READY") return earlier;
  const model = earlier ?? await store.createLoggedModel({
    experimentId,
    name: record.name,
    sourceRunId: runId,
    modelType: record.modelType,
    params: record.params,
    tags: { ...record.tags, [LOGGED_MODEL_RECORD_TAG]: record.recordId },
  });
  try {
    for (const [path, bytes] of Object.entries(record.files)) {
      if (path === "MLmodel") continue;
      await store.uploadLoggedModelArtifact(model.modelId, path, bytes);
    }
    const mlmodel = mlmodelYaml(model, record.flavors, new Date(clock()));
    await store.uploadLoggedModelArtifact(
      model.modelId,
      "MLmodel",
      new TextEncoder().encode(mlmodel),
    );
    if (earlier === undefined || earlier.metrics.length === 0) {
      const metrics = await metricsAtStep(store, runId, Object.keys(run.metrics), record.step);
      if (metrics.length > 0) await store.logLoggedModelMetrics(model.modelId, runId, metrics);
    }
    await store.logOutputs(runId, [{ modelId: model.modelId, step: record.step }]);
    await store.finalizeLoggedModel(model.modelId, "READY");
  } catch (error) {
    // Left PENDING, a replay of the record finishes it; say FAILED only for a bad request.
    if (!isTransient(error)) {
      await store.finalizeLoggedModel(model.modelId, "FAILED").catch(() => {});
    }
    throw error;
  }
  return await store.getLoggedModel(model.modelId);
}

/** The run's points at `step` (system metrics, sampled on their own steps, left out). */
async function metricsAtStep(
  store: TrackingStore,
  runId: string,
  keys: readonly string[],
  step: number,
): Promise<MlflowMetric[]> {
  const out: MlflowMetric[] = [];
  for (const key of keys.filter((k) => !k.startsWith("system/")).sort()) {
    const points = (await store.getMetricHistory(runId, key)).filter((m) => m.step === step);
    if (points.length > 0) out.push(points[points.length - 1]);
  }
  return out;
}

/** An error that a later try may not repeat (no answer, or the server's 5xx/429). */
function isTransient(error: unknown): boolean {
  const status = (error as { status?: unknown })?.status;
  return typeof status === "number" && (status === 0 || status === 429 || status >= 500);
}
