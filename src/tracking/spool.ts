/**
 * What the run logger could not send yet, kept in order until the server answers again.
 * The sink is injected: `memorySpool()` here, `denoSpool()` on disk (`spool_deno.ts`).
 *
 * @module
 */
import { type LoggedModelRecord, logModel } from "./logged_model.ts";
import { redactUri } from "./tracking_uri.ts";
import type {
  MlflowBatch,
  MlflowDatasetInput,
  MlflowRunStatus,
  TrackingStore,
} from "./tracking_store.ts";

/** One pending tracking operation. */
export type SpoolRecord =
  | { kind: "batch"; batch: MlflowBatch }
  | { kind: "artifact"; path: string; bytes: Uint8Array }
  | { kind: "update"; status: MlflowRunStatus; endTime: number }
  | { kind: "inputs"; datasets: readonly MlflowDatasetInput[] }
  | { kind: "model"; model: LoggedModelRecord };

/** Durable, ordered storage for unsent records. */
export interface SpoolSink {
  /** Adds records at the end. */
  append(records: readonly SpoolRecord[]): Promise<void>;
  /** Every record, oldest first. */
  load(): Promise<SpoolRecord[]>;
  /** Replaces the content (an empty list clears it). */
  replace(records: readonly SpoolRecord[]): Promise<void>;
}

/** A spool in memory (browser, tests of the logic): lost with the process. */
export function memorySpool(): SpoolSink {
  let records: SpoolRecord[] = [];
  return {
    append(more) {
      records.push(...more);
      return Promise.resolve();
    },
    load() {
      return Promise.resolve([...records]);
    },
    replace(next) {
      records = [...next];
      return Promise.resolve();
    },
  };
}

/** Merges consecutive batch records so that the store sends as few calls as possible. */
export function coalesceSpoolRecords(records: readonly SpoolRecord[]): SpoolRecord[] {
  const out: SpoolRecord[] = [];
  for (const r of records) {
    const last = out[out.length - 1];
    if (r.kind === "batch" && last?.kind === "batch") {
      out[out.length - 1] = {
        kind: "batch",
        batch: {
          metrics: [...(last.batch.metrics ?? []), ...(r.batch.metrics ?? [])],
          params: { ...last.batch.params, ...r.batch.params },
          tags: { ...last.batch.tags, ...r.batch.tags },
        },
      };
    } else out.push(r);
  }
  return out;
}

/** Sends one record to the store. */
export async function sendSpoolRecord(
  store: TrackingStore,
  runId: string,
  record: SpoolRecord,
): Promise<void> {
  if (record.kind === "batch") await store.logBatch(runId, record.batch);
  else if (record.kind === "artifact") await store.uploadArtifact(runId, record.path, record.bytes);
  else if (record.kind === "inputs") await store.logInputs(runId, record.datasets);
  else if (record.kind === "model") await logModel(store, runId, record.model);
  else await store.updateRun(runId, { status: record.status, endTime: record.endTime });
}

/**
 * Sends a spool's records in order; on the first failure the unsent rest stays in the
 * spool and the error is thrown. Returns how many records were sent.
 */
export async function replaySpool(
  store: TrackingStore,
  runId: string,
  sink: SpoolSink,
): Promise<number> {
  const records = coalesceSpoolRecords(await sink.load());
  let sent = 0;
  try {
    for (const record of records) {
      await sendSpoolRecord(store, runId, record);
      sent++;
    }
  } finally {
    if (sent > 0 || records.length > 0) await sink.replace(records.slice(sent));
  }
  return sent;
}

/** A tracking URI reduced to what names the server: no credentials, query, fragment or end slash. */
function comparableUri(uri: string): string {
  try {
    const url = new URL(uri);
    url.username = "";
    url.password = "";
    url.search = "";
    url.hash = "";
    return url.toString().replace(/\/+$/, "");
  } catch {
    return uri.trim().replace(/\/+$/, "");
  }
}

/**
 * Where a spool may be replayed: only to the configured tracking URI, and only when the spool
 * was written for that same server. A spool is data, not instructions: the URI inside it
 * never chooses where records (or credentials) go.
 *
 * @param spoolUri The `trackingUri` recorded in the spool's `spool.json`.
 * @param configuredUri The URI the user configured (`--to` or `MLFLOW_TRACKING_URI`); "" if none.
 * @param where The spool folder, for messages.
 * @returns `configuredUri`, to open the store with.
 */
export function spoolDestination(spoolUri: unknown, configuredUri: string, where: string): string {
  if (typeof spoolUri !== "string" || spoolUri === "") {
    throw new SyntaxError(`Cannot replay spool ${where}: its spool.json names no trackingUri`);
  }
  const written = redactUri(spoolUri);
  if (configuredUri === "") {
    throw new TypeError(
      `Cannot replay spool ${where}: no tracking URI is configured; it was written for ` +
        `${written}: pass --to ${written} (or set MLFLOW_TRACKING_URI) if that is your server`,
    );
  }
  if (comparableUri(spoolUri) !== comparableUri(configuredUri)) {
    throw new RangeError(
      `Cannot replay spool ${where}: it was written for ${written}, but the configured ` +
        `tracking URI is ${redactUri(configuredUri)}; a spool is only sent to the server it ` +
        `was written for`,
    );
  }
  return configuredUri;
}
