/**
 * `deno task runs`: the experiment's runs sorted by val macro-F1, or two runs compared.
 * Flag parsing and wiring only: the work is in `src/review/`.
 *
 * @module
 */
import { parseArgs } from "#args";
import {
  bestMetricValue,
  collectRunRows,
  formatRunComparison,
  formatRunsTable,
  resolveRun,
} from "../src/review/mod.ts";
import { openTrackingStore } from "../src/tracking/open_tracking_store_deno.ts";
import { findActiveExperimentId } from "../src/tracking/tracking_store.ts";

/** The resolved flags of `deno task runs`. */
export interface RunsCliOptions {
  readonly experiment: string;
  readonly compare: readonly [string, string] | null;
  readonly model: string;
  readonly alias: string;
  readonly json: boolean;
  readonly mlflowTrackingUri: string;
  readonly help: boolean;
}

/** `--help` text: documents every flag. */
export const RUNS_HELP = `deno task runs: review an experiment's runs

Usage:
  deno task runs [--experiment <name>] [--json]
  deno task runs --compare <run A> <run B>

Lists runs sorted by best val_macro_f1 with: name, status, epochs, val macro-F1 (best),
weighted F1, accuracy and cost (from the evaluation bundle's eval_* metrics, else the
latest val_acc / val_cost), promoted (champion = holds the alias; yes = promoted before).

Flags:
  --experiment <name>          experiment (default: MLFLOW_EXPERIMENT_NAME, else component-x-lstm)
  --compare <A> <B>            show the params that differ and the metrics side by side;
                               A and B are run ids or run names
  --json                       print the rows as JSON instead of a table
  --model <name>               registered model whose alias marks the champion
                               (default: component-x-lstm)
  --alias <name>               that alias (default: champion)
  --mlflow-tracking-uri <uri>  tracking server or folder (default: MLFLOW_TRACKING_URI,
                               else ./mlruns)
  -h, --help                   show this help
`;

const FLAGS = {
  experiment: { type: "string" },
  compare: { type: "boolean" },
  json: { type: "boolean" },
  model: { type: "string" },
  alias: { type: "string" },
  "mlflow-tracking-uri": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** Parses argv; `--compare` takes the two positionals that follow. */
export function parseRunsArgs(
  args: string[],
  env: Record<string, string | undefined> = {},
): RunsCliOptions {
  let parsed;
  try {
    parsed = parseArgs({ args, options: FLAGS, strict: true, allowPositionals: true });
  } catch (cause) {
    throw new TypeError(
      `Cannot parse runs flags: ${(cause as Error).message}. Allowed flags: ${
        Object.keys(FLAGS).map((f) => `--${f}`).join(", ")
      }`,
      { cause },
    );
  }
  const { values, positionals } = parsed;
  if (values.compare ? positionals.length !== 2 : positionals.length !== 0) {
    throw new TypeError(
      values.compare
        ? `Cannot parse --compare: expected two runs (ids or names), received ${positionals.length}`
        : `Cannot parse runs arguments: unexpected "${positionals.join(" ")}"; ` +
          "did you mean --compare <A> <B>?",
    );
  }
  return {
    experiment: values.experiment ?? env.MLFLOW_EXPERIMENT_NAME ?? "component-x-lstm",
    compare: values.compare ? [positionals[0], positionals[1]] : null,
    model: values.model ?? "component-x-lstm",
    alias: values.alias ?? "champion",
    json: values.json ?? false,
    mlflowTrackingUri: values["mlflow-tracking-uri"] ?? "",
    help: values.help ?? false,
  };
}

const looksLikeRunId = (s: string) => /^[0-9a-f]{32}$/.test(s);

/** Runs the command; returns the exit code. Only this function catches. */
export async function main(args: string[]): Promise<number> {
  try {
    const env = Deno.env.toObject();
    const options = parseRunsArgs(args, env);
    if (options.help) {
      console.log(RUNS_HELP);
      return 0;
    }
    const store = await openTrackingStore(options.mlflowTrackingUri, env, { readOnly: true });
    if (options.compare) {
      const [a, b] = await Promise.all(options.compare.map((ref) =>
        resolveRun(
          store,
          options.experiment,
          looksLikeRunId(ref) ? { runId: ref } : { runName: ref },
        )
      ));
      const best = async (id: string) =>
        bestMetricValue(await store.getMetricHistory(id, "val_macro_f1"));
      console.log(
        formatRunComparison(a, b, { a: await best(a.info.runId), b: await best(b.info.runId) }),
      );
      return 0;
    }
    const expId = await findActiveExperimentId(store, options.experiment);
    if (expId === null) {
      throw new RangeError(
        `Cannot list runs: experiment "${options.experiment}" does not exist in ${store.location}; ` +
          "pass --experiment or --mlflow-tracking-uri",
      );
    }
    const rows = await collectRunRows(store, expId, { model: options.model, alias: options.alias });
    if (options.json) console.log(JSON.stringify(rows, null, 2));
    else {
      console.log(
        `Experiment ${options.experiment} (${expId}) in ${store.location}: ${rows.length} runs`,
      );
      console.log(formatRunsTable(rows));
    }
    return 0;
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
