/**
 * How `FileStore` writes and reads MLflow's file-store records: run `meta.yaml` mappings,
 * metric lines (`<timestamp> <value> <step>`, non-finite values as Python prints them),
 * file URIs, experiment ids, relative artifact paths, and folders of one file per key
 * (params, tags, metrics).
 *
 * @module
 */
import type { YamlValue } from "./_yaml.ts";
import type { FileSystemAdapter } from "./file_system.ts";
import {
  MLFLOW_RUN_STATUS_CODES,
  type MlflowMetric,
  type MlflowRunInfo,
  type MlflowRunStatus,
  validateMlflowKey,
} from "./tracking_store.ts";

const STATUS_BY_CODE: Record<number, MlflowRunStatus> = Object.fromEntries(
  Object.entries(MLFLOW_RUN_STATUS_CODES).map(([name, code]) => [code, name as MlflowRunStatus]),
);
const decoder = new TextDecoder();

/** Formats a metric value the way Python's `str(float)` reads back (`nan`, `inf`, `-inf`). */
export function formatMetricValue(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (value === Infinity) return "inf";
  if (value === -Infinity) return "-inf";
  return String(value);
}

export function parseMetricValue(text: string): number {
  const t = text.toLowerCase();
  if (t === "nan") return NaN;
  if (t === "inf" || t === "infinity" || t === "+inf") return Infinity;
  if (t === "-inf" || t === "-infinity") return -Infinity;
  return Number(text);
}

export function fileUri(path: string): string {
  const p = path.startsWith("/") ? path : `/${path}`;
  return `file://${
    p.split("/").map((s) => encodeURIComponent(s).replaceAll("%3A", ":")).join("/")
  }`;
}

export function randomExperimentId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  let id = String(1 + (bytes[0] % 9));
  for (let i = 1; i < 18; i++) id += String(bytes[i] % 10);
  return id;
}

/**
 * A stable experiment id for a name: 18 digits, no leading zero (MLflow's id shape) from
 * the name's SHA-256, so that concurrent creators of one name pick the same folder.
 */
export async function experimentIdForName(name: string): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`experiment:${name}`)),
  );
  let id = String(1 + (digest[0] % 9));
  for (let i = 1; i < 18; i++) id += String(digest[i] % 10);
  return id;
}

/** Prefix of the temporary file an atomic write leaves for a moment; `readDir` skips it. */
export const TEMP_ENTRY_PREFIX = ".tmp-";

export function checkRelativePath(what: string, path: string): string {
  const clean = path.replaceAll("\\", "/").replace(/^\/+|\/+$/g, "");
  if (clean.split("/").some((s) => s === ".." || s === ".")) {
    throw new TypeError(`Cannot access ${what} "${path}": "." and ".." segments are not allowed`);
  }
  return clean;
}

/** A run's info from its `meta.yaml` (status as MLflow's integer code or its name). */
export function runInfoFromMeta(meta: Record<string, YamlValue>): MlflowRunInfo {
  const status = typeof meta.status === "number"
    ? STATUS_BY_CODE[meta.status] ?? "RUNNING"
    : (String(meta.status ?? "RUNNING") as MlflowRunStatus);
  return {
    runId: String(meta.run_id ?? meta.run_uuid),
    experimentId: String(meta.experiment_id),
    runName: String(meta.run_name ?? ""),
    userId: String(meta.user_id ?? ""),
    status,
    startTime: Number(meta.start_time),
    endTime: meta.end_time === null || meta.end_time === undefined ? null : Number(meta.end_time),
    artifactUri: String(meta.artifact_uri ?? ""),
    lifecycleStage: String(meta.lifecycle_stage ?? "active"),
  };
}

/** A run's `meta.yaml` mapping, in MLflow's field set. */
export function runMeta(info: MlflowRunInfo): Record<string, YamlValue> {
  return {
    artifact_uri: info.artifactUri,
    deleted_time: null,
    end_time: info.endTime,
    entry_point_name: "",
    experiment_id: info.experimentId,
    lifecycle_stage: info.lifecycleStage,
    run_id: info.runId,
    run_name: info.runName,
    run_uuid: info.runId,
    source_name: "",
    source_type: 4,
    source_version: "",
    start_time: info.startTime,
    status: MLFLOW_RUN_STATUS_CODES[info.status],
    tags: [],
    user_id: info.userId,
  };
}

/** The points of one metric file, in logging order. */
export function parseMetricLines(key: string, text: string): MlflowMetric[] {
  const points: MlflowMetric[] = [];
  for (const line of text.split("\n")) {
    const parts = line.trim().split(/\s+/);
    if (parts.length < 2 || parts[0] === "") continue;
    points.push({
      key,
      timestamp: Number(parts[0]),
      value: parseMetricValue(parts[1]),
      step: parts.length > 2 ? Number(parts[2]) : 0,
    });
  }
  return points;
}

/** The latest point of a metric (highest step, then latest timestamp), or null. */
export function latestMetric(points: readonly MlflowMetric[]): MlflowMetric | null {
  let best: MlflowMetric | null = null;
  for (const p of points) {
    if (
      best === null || p.step > best.step || (p.step === best.step && p.timestamp >= best.timestamp)
    ) {
      best = p;
    }
  }
  return best;
}

/** The lines to append per metric file, keys checked against MLflow's rules. */
export function metricLines(metrics: readonly MlflowMetric[]): Map<string, string> {
  const lines = new Map<string, string>();
  for (const m of metrics) {
    validateMlflowKey("metric", m.key);
    lines.set(
      m.key,
      (lines.get(m.key) ?? "") +
        `${Math.trunc(m.timestamp)} ${formatMetricValue(m.value)} ${Math.trunc(m.step)}\n`,
    );
  }
  return lines;
}

/** Checks a param or tag against MLflow's key rules and value limits (6000 / 8000 chars). */
export function checkLoggedValue(kind: "param" | "tag", key: string, value: string): void {
  validateMlflowKey(kind, key);
  const max = kind === "param" ? 6000 : 8000;
  if (value.length > max) {
    throw new RangeError(
      `Cannot ${kind === "param" ? "log param" : "set tag"} "${key}": the value has ` +
        `${value.length} characters, at most ${max} allowed`,
    );
  }
}

/** Files under a folder as key -> contents, keys nested with `/`. */
export async function readKeyedFiles(
  fs: FileSystemAdapter,
  dir: string,
  prefix = "",
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of (await fs.readDir(dir)) ?? []) {
    const key = prefix + e.name;
    if (e.isDirectory) {
      for (const [k, v] of await readKeyedFiles(fs, `${dir}/${e.name}`, `${key}/`)) out.set(k, v);
    } else {
      out.set(key, decoder.decode((await fs.readFile(`${dir}/${e.name}`)) ?? new Uint8Array()));
    }
  }
  return out;
}
