/**
 * Deno edge of the sync job: publishes local runs (`./mlruns`) to a tracking server, or
 * replays the spools a training left while the server was down. Complete copies are
 * skipped and incomplete ones finished (see `copyRun`), so the job can be rerun.
 *
 * @module
 */
import { copyRun, type CopyRunResult } from "../tracking/copy_run.ts";
import { FileStore } from "../tracking/file_store.ts";
import { openTrackingStore } from "../tracking/open_tracking_store_deno.ts";
import { replaySpool, spoolDestination } from "../tracking/spool.ts";
import { denoSpool, readSpoolTarget } from "../tracking/spool_deno.ts";
import { redactUri } from "../tracking/tracking_uri.ts";

/** Environment and progress lines of a sync. */
export interface SyncContext {
  /** The process environment (`MLFLOW_TRACKING_*` credentials). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly log: (line: string) => void;
}

/** The spool folders at `dir`: itself when it holds a spool, else its subfolders that do. */
async function spoolDirs(dir: string): Promise<string[]> {
  if (await readSpoolTarget(dir) !== null) return [dir];
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory && await readSpoolTarget(`${dir}/${e.name}`) !== null) {
        out.push(`${dir}/${e.name}`);
      }
    }
  } catch (cause) {
    throw new Error(`Cannot read spool folder ${dir}: ${(cause as Error).message}`, { cause });
  }
  return out.sort();
}

/**
 * Sends every spool under `dir` to its run at `to`, the configured tracking URI, which
 * must be the one the spool was written for (a spool is data from disk: it never chooses
 * where credentials and records go). Returns the number of records sent.
 */
export async function replaySpools(
  dir: string,
  ctx: SyncContext & { readonly to: string },
): Promise<number> {
  const dirs = await spoolDirs(dir);
  if (dirs.length === 0) {
    throw new RangeError(
      `Cannot replay spool ${dir}: no spool.json there or in its subfolders; ` +
        `pass <output dir>/mlflow_spool or one run's folder in it`,
    );
  }
  let total = 0;
  for (const spool of dirs) {
    const target = (await readSpoolTarget(spool))!;
    const to = spoolDestination(target.trackingUri, ctx.to, spool);
    const store = await openTrackingStore(to, ctx.env);
    const sent = await replaySpool(store, target.runId, denoSpool(spool, target));
    ctx.log(`run ${target.runId}: sent ${sent} spooled records to ${store.location}`);
    total += sent;
  }
  return total;
}

/** Which local runs to publish where. */
export interface SyncRunsRequest {
  /** A local mlruns folder or file: URI. */
  readonly from: string;
  /** The tracking server. */
  readonly to: string;
  /** Only runs of this experiment ("" = every experiment). */
  readonly experiment: string;
  /** Only this run ("" = every run). */
  readonly runId: string;
}

/** What {@link syncRuns} did, run by run. */
export interface SyncRunsSummary {
  /** New copies, copies finished (left incomplete by an earlier sync), complete copies skipped. */
  readonly copied: number;
  readonly finished: number;
  readonly skipped: number;
  /** Runs that could not be copied, with why (the others were still copied). */
  readonly failed: readonly { readonly runId: string; readonly error: string }[];
}

/**
 * Copies the local runs to the server, oldest first. A run that fails does not stop the
 * others; its copy stays incomplete and the next sync finishes it. Returns the counts.
 */
export async function syncRuns(request: SyncRunsRequest & SyncContext): Promise<SyncRunsSummary> {
  const { env, log } = request;
  const from = await openTrackingStore(request.from, env, { readOnly: true });
  if (!(from instanceof FileStore)) {
    throw new TypeError(
      `Cannot sync from "${
        redactUri(request.from)
      }": it must be a local mlruns folder or file: URI`,
    );
  }
  const to = await openTrackingStore(request.to, env);
  let runIds: string[];
  if (request.runId !== "") runIds = [request.runId];
  else {
    const experiments = (await from.listExperiments()).filter((e) =>
      request.experiment === "" || e.name === request.experiment
    );
    if (experiments.length === 0) {
      throw new RangeError(
        `Cannot sync: no experiment ${
          request.experiment ? `"${request.experiment}" ` : ""
        }in ${from.location}`,
      );
    }
    runIds = (await from.searchRuns(experiments.map((e) => e.experimentId)))
      .map((r) => r.info.runId).reverse();
  }
  const summary = {
    copied: 0,
    finished: 0,
    skipped: 0,
    failed: [] as SyncRunsSummary["failed"][number][],
  };
  for (const runId of runIds) {
    let r: CopyRunResult;
    try {
      r = await copyRun(from, runId, to);
    } catch (error) {
      const message = (error as Error).message;
      summary.failed.push({ runId, error: message });
      log(`run ${runId}: FAILED: ${message}`);
      continue;
    }
    summary[r.outcome]++;
    const sent = `${r.metrics} metric values, ${r.artifacts} artifacts`;
    log(
      r.outcome === "skipped"
        ? `run ${runId}: already on ${to.location} as ${r.targetRunId}, skipped`
        : r.outcome === "finished"
        ? `run ${runId} -> ${r.targetRunId}: finished an incomplete copy (${sent} missing)`
        : `run ${runId} -> ${r.targetRunId}: ${sent}`,
    );
    if (!r.complete) {
      log(`run ${runId}: still RUNNING here; the next sync sends what it logs from now on`);
    }
    if (r.droppedTags.length > 0 && r.outcome !== "skipped") {
      log(
        `run ${runId}: left out ${r.droppedTags.join(", ")}: they name a model version of the ` +
          `local registry, which is not synced; promote ${r.targetRunId} on ${to.location} ` +
          "with deno task promote",
      );
    }
  }
  log(
    `${runIds.length} run(s) from ${from.location} to ${to.location}: ${summary.copied} copied, ` +
      `${summary.finished} finished, ${summary.skipped} already synced, ` +
      `${summary.failed.length} failed`,
  );
  return summary;
}
