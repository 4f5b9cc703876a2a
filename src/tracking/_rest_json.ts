/**
 * The MLflow REST API's JSON shapes (snake_case, ids as strings, non-finite numbers as
 * strings) turned into the toolkit's types.
 *
 * @module
 */
import { decodeMlflowNumber } from "./rest_transport.ts";
import type {
  MlflowExperiment,
  MlflowModelVersion,
  MlflowRun,
  MlflowRunInfo,
  MlflowRunStatus,
} from "./tracking_store.ts";

/** A run as the server sends it. */
export interface RawRun {
  info: Record<string, unknown>;
  data?: {
    params?: { key: string; value: string }[];
    tags?: { key: string; value: string }[];
    metrics?: { key: string; value: unknown; step?: unknown; timestamp?: unknown }[];
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
  const pairs = (list?: { key: string; value: string }[]) =>
    Object.fromEntries((list ?? []).map((p) => [p.key, p.value]));
  const metrics: Record<string, number> = {};
  for (const m of raw.data?.metrics ?? []) metrics[m.key] = decodeMlflowNumber(m.value);
  return { params: pairs(raw.data?.params), tags: pairs(raw.data?.tags), metrics };
}

/** An experiment. */
export function experimentFromJson(raw: Record<string, string>): MlflowExperiment {
  return {
    experimentId: raw.experiment_id,
    name: raw.name,
    artifactLocation: raw.artifact_location ?? "",
    lifecycleStage: raw.lifecycle_stage ?? "active",
  };
}

/** A model version of registered model `name`. */
export function modelVersionFromJson(
  name: string,
  raw: Record<string, string>,
): MlflowModelVersion {
  return { name, version: String(raw.version), source: raw.source, runId: raw.run_id };
}
