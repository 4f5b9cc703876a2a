/**
 * `deno task promote`: promotes a run only with evidence (better val macro-F1 than the
 * champion and the always-0 baseline, an attached evaluation bundle, inspected plots),
 * then installs its best checkpoint as `artifacts/best` and moves the registry alias.
 * Flag parsing and printing only: the job is in `src/jobs/promote_job.ts`, the policy in
 * `src/review/`.
 *
 * @module
 */
import { parseArgs } from "#args";
import { formatPromotionDecision } from "../src/review/promotion_decision.ts";
import { promoteRun } from "../src/jobs/promote_job.ts";
import { openTrackingStore } from "../src/tracking/open_tracking_store_deno.ts";
import { installBestCheckpoint } from "../src/jobs/install_checkpoint_deno.ts";
import { currentUser } from "../src/tracking/current_user_deno.ts";

/** The resolved flags of `deno task promote`. */
export interface PromoteCliOptions {
  readonly runId: string;
  readonly runName: string;
  readonly experiment: string;
  readonly model: string;
  readonly alias: string;
  readonly inspected: boolean;
  readonly reason: string;
  readonly user: string;
  readonly artifactsDir: string;
  readonly checkpointArtifact: string;
  readonly mlflowTrackingUri: string;
  readonly help: boolean;
}

/** `--help` text: documents every flag. */
export const PROMOTE_HELP = `deno task promote: promote a run, with evidence

Usage:
  deno task promote --run-id <id> [--inspected] [options]
  deno task promote --run-name <name> [--experiment <name>] [--inspected] [options]

A run is promoted only when all of these hold (a refusal lists each with its numbers):
  1. its best val_macro_f1 beats the current champion's and the always-0 baseline's
     (baseline_macro_f1 of its evaluation bundle, computed on the same validation labels);
  2. its evaluation bundle (deno task evaluate --mlflow-run-id <id>) is attached under
     evaluations/;
  3. you inspected the plots: --inspected, or answer the prompt that shows where they are.
Then its best checkpoint is copied to <artifacts-dir>/best (the previous one is kept as
<artifacts-dir>/best.previous), a model version is registered and the alias moved to it,
with who/when/why recorded as version tags.

Flags:
  --run-id <id>                 the run to promote
  --run-name <name>             ... or its name (within --experiment)
  --experiment <name>           experiment of --run-name (default: MLFLOW_EXPERIMENT_NAME,
                                else component-x-lstm)
  --inspected                   confirm the evaluation plots were inspected
  --reason <text>               why (recorded as the version's description and tag;
                                default: a summary of the numbers)
  --user <name>                 who (default: LOGNAME, USER, LNAME or USERNAME, else the
                                account name, as MLflow's mlflow.user)
  --model <name>                registered model name (default: component-x-lstm)
  --alias <name>                alias to move (default: champion)
  --artifacts-dir <dir>         where best/ is installed (default: artifacts)
  --checkpoint-artifact <path>  the run's checkpoint folder (default: first of
                                checkpoints/best, best, checkpoint/best that exists)
  --mlflow-tracking-uri <uri>   tracking server or folder (default: MLFLOW_TRACKING_URI,
                                else ./mlruns)
  -h, --help                    show this help

Exit status: 0 promoted, 2 refused, 1 error.
`;

const FLAGS = {
  "run-id": { type: "string" },
  "run-name": { type: "string" },
  experiment: { type: "string" },
  inspected: { type: "boolean" },
  reason: { type: "string" },
  user: { type: "string" },
  model: { type: "string" },
  alias: { type: "string" },
  "artifacts-dir": { type: "string" },
  "checkpoint-artifact": { type: "string" },
  "mlflow-tracking-uri": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** Parses argv; `env` supplies USER and MLFLOW_EXPERIMENT_NAME defaults. */
export function parsePromoteArgs(
  args: string[],
  env: Record<string, string | undefined> = {},
): PromoteCliOptions {
  let values;
  try {
    ({ values } = parseArgs({ args, options: FLAGS, strict: true, allowPositionals: false }));
  } catch (cause) {
    throw new TypeError(
      `Cannot parse promote flags: ${(cause as Error).message}. Allowed flags: ${
        Object.keys(FLAGS).map((f) => `--${f}`).join(", ")
      }`,
      { cause },
    );
  }
  const options: PromoteCliOptions = {
    runId: values["run-id"] ?? "",
    runName: values["run-name"] ?? "",
    experiment: values.experiment ?? env.MLFLOW_EXPERIMENT_NAME ?? "component-x-lstm",
    model: values.model ?? "component-x-lstm",
    alias: values.alias ?? "champion",
    inspected: values.inspected ?? false,
    reason: values.reason ?? "",
    user: values.user ?? currentUser(env),
    artifactsDir: values["artifacts-dir"] ?? "artifacts",
    checkpointArtifact: values["checkpoint-artifact"] ?? "",
    mlflowTrackingUri: values["mlflow-tracking-uri"] ?? "",
    help: values.help ?? false,
  };
  if (!options.help && (options.runId === "") === (options.runName === "")) {
    throw new TypeError(
      `Cannot promote: pass exactly one of --run-id or --run-name, received ${
        options.runId === "" ? "neither" : "both"
      }`,
    );
  }
  if (
    !/^[A-Za-z0-9_-]+$/.test(options.alias) || /^v\d+$/i.test(options.alias) ||
    options.alias === "latest"
  ) {
    throw new RangeError(
      `Cannot parse --alias: expected letters, digits, "_" or "-" (not "latest" or v<number>), received "${options.alias}"`,
    );
  }
  return options;
}

function confirmInspected(where: string): boolean {
  if (!Deno.stdin.isTerminal()) return false;
  const answer = prompt(`The evaluation plots: ${where}. Have you inspected them? [y/N]`);
  return /^y(es)?$/i.test((answer ?? "").trim());
}

/** Runs the command; returns 0 promoted, 2 refused, 1 error. Only this function catches. */
export async function main(args: string[]): Promise<number> {
  try {
    const env = Deno.env.toObject();
    const options = parsePromoteArgs(args, env);
    if (options.help) {
      console.log(PROMOTE_HELP);
      return 0;
    }
    const store = await openTrackingStore(options.mlflowTrackingUri, env, { readOnly: true });
    const outcome = await promoteRun(store, {
      run: { runId: options.runId || undefined, runName: options.runName || undefined },
      experiment: options.experiment,
      registry: { model: options.model, alias: options.alias },
      inspected: options.inspected,
      reason: options.reason,
      user: options.user,
      checkpointArtifact: options.checkpointArtifact,
    }, {
      confirmInspected,
      installCheckpoint: (files) => installBestCheckpoint(options.artifactsDir, files),
    });
    const { info } = outcome.promotion.run;
    console.log(`Run ${info.runName || "(unnamed)"} (${info.runId}) in ${store.location}`);
    console.log(formatPromotionDecision(outcome.decision));
    if (!outcome.promoted) {
      console.log("Refused: not promoted.");
      return 2;
    }
    console.log(
      `Promoted: ${options.model} version ${outcome.version} is now "${options.alias}"; ` +
        `artifact ${outcome.checkpointPath} of run ${info.runId} installed at ` +
        `${outcome.installed.best}` +
        (outcome.installed.previous ? ` (previous kept at ${outcome.installed.previous})` : ""),
    );
    return 0;
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
