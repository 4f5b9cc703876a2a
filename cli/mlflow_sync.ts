/**
 * `deno task mlflow-sync`: uploads local runs (`./mlruns`) to a tracking server, or replays
 * the spool a training left when the server was down. Flag parsing only: the job is in
 * `src/jobs/sync_job_deno.ts`.
 *
 * @module
 */
import { parseArgs } from "#args";
import { replaySpools, syncRuns } from "../src/jobs/sync_job_deno.ts";
import { redactUri, trackingServerUrl } from "../src/tracking/tracking_uri.ts";
import { runMain } from "./_cli.ts";

/** `--help` text: documents every flag. */
export const MLFLOW_SYNC_HELP =
  `deno task mlflow-sync: publish local MLflow runs to a tracking server

Usage:
  deno task mlflow-sync --to <uri> [--from ./mlruns] [--experiment <name>] [--run-id <id>]
  deno task mlflow-sync --spool <dir> [--to <uri>]

Copies whole runs (params, tags, every metric value with its step and timestamp,
artifacts, status, start and end times) from a local ./mlruns folder to a server. A copy is
marked complete (tag toolkit.sync.complete) only once everything was sent and the run has
ended; a complete copy is skipped, an incomplete one (an earlier sync failed half-way, or
the run was still running) is finished, sending only what it lacks. A run that fails does
not stop the others; the exit status is then 1. promotion.* tags are left out: they name
versions of the local registry, which is not copied (promote the copy on the server).
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
  if (!options.help && options.spool === "") {
    if (options.to === "") {
      throw new TypeError(
        "Cannot sync: --to must be an http(s):// tracking server URI, received nothing " +
          "(and MLFLOW_TRACKING_URI is unset)",
      );
    }
    try {
      trackingServerUrl(options.to);
    } catch (cause) {
      throw new TypeError(
        `Cannot sync: --to must be an http(s):// tracking server URI, received ` +
          `"${redactUri(options.to)}" (${(cause as Error).message})`,
        { cause },
      );
    }
  }
  return options;
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
    await replaySpools(options.spool, { to: options.to, env, log });
    return 0;
  }
  const summary = await syncRuns({
    from: options.from,
    to: options.to,
    experiment: options.experiment,
    runId: options.runId,
    env,
    log,
  });
  if (summary.failed.length > 0) {
    console.error(
      `error: Cannot sync ${summary.failed.length} run(s): ${
        summary.failed.map((f) => f.runId).join(", ")
      } (see above); their copies stay incomplete and the next sync finishes them`,
    );
    return 1;
  }
  return 0;
}

if (import.meta.main) await runMain(main);
