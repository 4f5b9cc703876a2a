/**
 * `deno task mlflow-sync`: uploads local runs (`./mlruns`) to a tracking server, or replays
 * the spool a training left when the server was down. Wiring only: the work is in
 * `src/tracking/`.
 *
 * @module
 */
import { parseArgs } from "#args";
import { copyRun } from "../src/tracking/copy_run.ts";
import { FileStore } from "../src/tracking/file_store.ts";
import { redactUri } from "../src/tracking/rest_store.ts";
import { replaySpool, spoolDestination } from "../src/tracking/spool.ts";
import { denoSpool, readSpoolTarget } from "../src/tracking/spool_deno.ts";
import { openTrackingStore } from "./_tracking.ts";
import { runMain } from "./_cli.ts";

/** `--help` text: documents every flag. */
export const MLFLOW_SYNC_HELP =
  `deno task mlflow-sync: publish local MLflow runs to a tracking server

Usage:
  deno task mlflow-sync --to <uri> [--from ./mlruns] [--experiment <name>] [--run-id <id>]
  deno task mlflow-sync --spool <dir> [--to <uri>]

Copies whole runs (params, tags, every metric value with its step and timestamp,
artifacts, status, start and end times) from a local ./mlruns folder to a server. A run
copied before (tag toolkit.sync.source_run_id) is skipped, so the command can be rerun.
With --spool, sends what a training could not send while the server was down; the spool
is data: it is sent only to the configured server, and only files inside its folder.

Flags:
  --from <dir>          local mlruns folder or file: URI (default ./mlruns)
  --to <uri>            destination: http(s)://host:port (default: $MLFLOW_TRACKING_URI); with
                        --spool it must be the URI the spool was written for, else the
                        spool is refused
  --experiment <name>   only runs of this local experiment (default: every experiment)
  --run-id <id>         only this run
  --spool <dir>         replay a spool folder (artifacts/mlflow_spool/<run id>) or every spool
                        under a folder (artifacts/mlflow_spool)
  -h, --help            show this help

Credentials: MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD (Basic, wins) or
MLFLOW_TRACKING_TOKEN (Bearer); they are never printed.`;

/** Resolved flags. */
export interface MlflowSyncOptions {
  from: string;
  to: string;
  experiment: string;
  runId: string;
  spool: string;
  help: boolean;
}

/** Parses argv; throws TypeError naming the flag on bad input. */
export function parseMlflowSyncArgs(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): MlflowSyncOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        from: { type: "string" },
        to: { type: "string" },
        experiment: { type: "string" },
        "run-id": { type: "string" },
        spool: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (cause) {
    throw new TypeError(
      `Cannot parse mlflow-sync flags: ${(cause as Error).message}; allowed: --from, --to, ` +
        `--experiment, --run-id, --spool, --help`,
      { cause },
    );
  }
  const options: MlflowSyncOptions = {
    from: values.from ?? "./mlruns",
    to: values.to ?? env.MLFLOW_TRACKING_URI ?? "",
    experiment: values.experiment ?? "",
    runId: values["run-id"] ?? "",
    spool: values.spool ?? "",
    help: values.help ?? false,
  };
  if (!options.help && options.spool === "" && !/^https?:\/\//i.test(options.to)) {
    throw new TypeError(
      `Cannot sync: --to must be an http(s):// tracking server URI, received ` +
        `${
          options.to === ""
            ? "nothing (and MLFLOW_TRACKING_URI is unset)"
            : `"${redactUri(options.to)}"`
        }`,
    );
  }
  return options;
}

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

/** Runs the command; returns the exit status. */
export async function main(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>> = Deno.env.toObject(),
  log: (line: string) => void = (line) => console.log(line),
): Promise<number> {
  const options = parseMlflowSyncArgs(args, env);
  if (options.help) {
    log(MLFLOW_SYNC_HELP);
    return 0;
  }
  if (options.spool !== "") {
    const dirs = await spoolDirs(options.spool);
    if (dirs.length === 0) {
      throw new RangeError(
        `Cannot replay spool ${options.spool}: no spool.json there or in its subfolders; ` +
          `pass <output dir>/mlflow_spool or one run's folder in it`,
      );
    }
    for (const dir of dirs) {
      const target = (await readSpoolTarget(dir))!;
      const to = spoolDestination(target.trackingUri, options.to, dir);
      const store = openTrackingStore(to, env);
      const sent = await replaySpool(store, target.runId, denoSpool(dir, target));
      log(`run ${target.runId}: sent ${sent} spooled records to ${store.location}`);
    }
    return 0;
  }
  const from = openTrackingStore(options.from, env);
  if (!(from instanceof FileStore)) {
    throw new TypeError(
      `Cannot sync from "${
        redactUri(options.from)
      }": --from must be a local mlruns folder or file: URI`,
    );
  }
  const to = openTrackingStore(options.to, env);
  let runIds: string[];
  if (options.runId !== "") runIds = [options.runId];
  else {
    const experiments = (await from.listExperiments()).filter((e) =>
      options.experiment === "" || e.name === options.experiment
    );
    if (experiments.length === 0) {
      throw new RangeError(
        `Cannot sync: no experiment ${
          options.experiment ? `"${options.experiment}" ` : ""
        }in ${from.location}`,
      );
    }
    runIds = (await from.searchRuns(experiments.map((e) => e.experimentId)))
      .map((r) => r.info.runId).reverse();
  }
  for (const runId of runIds) {
    const r = await copyRun(from, runId, to);
    log(
      r.skipped
        ? `run ${runId}: already on ${to.location} as ${r.targetRunId}, skipped`
        : `run ${runId} -> ${r.targetRunId}: ${r.metrics} metric values, ${r.artifacts} artifacts`,
    );
  }
  log(`${runIds.length} run(s) synced from ${from.location} to ${to.location}`);
  return 0;
}

if (import.meta.main) await runMain(main);
