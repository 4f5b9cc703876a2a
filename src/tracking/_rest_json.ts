/**
 * The MLflow REST API's JSON shapes (snake_case, ids as strings, non-finite numbers as
 * strings) turned into the toolkit's types, and the toolkit's values that requests send
 * (key/value lists, metrics, data sets) turned into them.
 *
 * @module
 */
import { decodeMlflowNumber } from "./rest_transport.ts";
import type {
  LoggedModelStatus,
  MlflowDataset,
  MlflowDatasetInput,
  MlflowExperiment,
  MlflowLoggedModel,
  MlflowMetric,
  MlflowModelVersion,
  MlflowRun,
  MlflowRunInfo,
  MlflowRunStatus,
} from "./tracking_store.ts";

/** A key/value list as the server sends it. */
type RawPairs = { key: string; value: string }[];

/** A run as the server sends it. */
export interface RawRun {
  info: Record<string, unknown>;
  data?: {
    params?: { key: string; value: string }[];
    tags?: { key: string; value: string }[];
    metrics?: { key: string; value: unknown; step?: unknown; timestamp?: unknown }[];
  };
  inputs?: {
    dataset_inputs?: { tags?: RawPairs; dataset: Record<string, string | undefined> }[];
  };
  outputs?: { model_outputs?: { model_id: string; step?: unknown }[] };
}

/** A logged model as the server sends it. */
export interface RawLoggedModel {
  info: Record<string, unknown> & { tags?: RawPairs };
  data?: {
    params?: RawPairs;
    metrics?: { key: string; value: unknown; step?: unknown; timestamp?: unknown }[];
  };
}

const pairs = (list?: RawPairs) => Object.fromEntries((list ?? []).map((p) => [p.key, p.value]));

/** A string map as the server's `[{key, value}]` list. */
export function keyValues(map: Readonly<Record<string, string>>): { key: string; value: string }[] {
  return Object.entries(map).map(([key, value]) => ({ key, value }));
}

/** A metric in log-batch's JSON (integral timestamp and step), with `extra` fields. */
export function metricJson(
  m: MlflowMetric,
  extra: Record<string, string> = {},
): Record<string, unknown> {
  return {
    key: m.key,
    value: m.value,
    timestamp: Math.trunc(m.timestamp),
    step: Math.trunc(m.step),
    ...extra,
  };
}

/** A data set in the server's JSON (null schema and profile left out). */
export function datasetToJson(d: MlflowDataset): Record<string, string> {
  const out: Record<string, string> = {
    name: d.name,
    digest: d.digest,
    source_type: d.sourceType,
    source: d.source,
  };
  if (d.schema !== null) out.schema = d.schema;
  if (d.profile !== null) out.profile = d.profile;
  return out;
}

function datasetInputFromJson(
  raw: { tags?: RawPairs; dataset: Record<string, string | undefined> },
): MlflowDatasetInput {
  const d = raw.dataset;
  return {
    dataset: {
      name: String(d.name ?? ""),
      digest: String(d.digest ?? ""),
      sourceType: String(d.source_type ?? ""),
      source: String(d.source ?? ""),
      schema: d.schema ?? null,
      profile: d.profile ?? null,
    },
    tags: pairs(raw.tags),
  };
}

const LOGGED_MODEL_STATUS: Record<string, LoggedModelStatus> = {
  LOGGED_MODEL_PENDING: "PENDING",
  LOGGED_MODEL_READY: "READY",
  LOGGED_MODEL_UPLOAD_FAILED: "FAILED",
};

/** A logged model. */
export function loggedModelFromJson(raw: RawLoggedModel): MlflowLoggedModel {
  const i = raw.info;
  const text = (v: unknown) => (v === undefined || v === null || v === "" ? null : String(v));
  return {
    modelId: String(i.model_id),
    experimentId: String(i.experiment_id),
    name: String(i.name ?? ""),
    artifactLocation: String(i.artifact_uri ?? ""),
    sourceRunId: text(i.source_run_id),
    status: LOGGED_MODEL_STATUS[String(i.status)] ?? "PENDING",
    modelType: text(i.model_type),
    creationTimestamp: Number(i.creation_timestamp_ms ?? 0),
    params: pairs(raw.data?.params),
    tags: pairs(i.tags),
    metrics: (raw.data?.metrics ?? []).map((m) => ({
      key: m.key,
      value: decodeMlflowNumber(m.value),
      timestamp: Number(m.timestamp ?? 0),
      step: Number(m.step ?? 0),
    })),
  };
}

/** A run's info block. */
export function runInfoFromJson(raw: Record<string, unknown>): MlflowRunInfo {
  return {
    runId: String(raw.run_id ?? raw.run_uuid),
    experimentId: String(raw.experiment_id),
    runName: String(raw.run_name ?? ""),
    userId: String(raw.user_id ?? ""),
    status: String(raw.status ?? "RUNNING") as MlflowRunStatus,
    startTime: Number(raw.start_time ?? 0),
    endTime: raw.end_time === undefined || raw.end_time === null ? null : Number(raw.end_time),
    artifactUri: String(raw.artifact_uri ?? ""),
    lifecycleStage: String(raw.lifecycle_stage ?? "active"),
  };
}

/** A run's params, tags and latest metric values. */
export function runDataFromJson(raw: RawRun): Omit<MlflowRun, "info"> {
  const metrics: Record<string, number> = {};
  for (const m of raw.data?.metrics ?? []) metrics[m.key] = decodeMlflowNumber(m.value);
  return {
    params: pairs(raw.data?.params),
    tags: pairs(raw.data?.tags),
    metrics,
    inputs: (raw.inputs?.dataset_inputs ?? []).map(datasetInputFromJson),
    outputs: (raw.outputs?.model_outputs ?? []).map((o) => ({
      modelId: o.model_id,
      step: Number(o.step ?? 0),
    })),
  };
}

/** An experiment. */
export function experimentFromJson(
  raw: Record<string, string> & { tags?: RawPairs },
): MlflowExperiment {
  return {
    experimentId: raw.experiment_id,
    name: raw.name,
    artifactLocation: raw.artifact_location ?? "",
    lifecycleStage: raw.lifecycle_stage ?? "active",
    tags: pairs(raw.tags),
  };
}

/** A model version of registered model `name`. */
export function modelVersionFromJson(
  name: string,
  raw: Record<string, string>,
): MlflowModelVersion {
  return {
    name,
    version: String(raw.version),
    source: raw.source,
    runId: raw.run_id ?? "",
    ...(raw.model_id ? { modelId: raw.model_id } : {}),
  };
}
