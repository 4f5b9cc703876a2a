/**
 * `deno task import`: brings the PyTorch pipeline's champion (`best.pt`) into MLflow and the
 * registry, evaluated on the validation data, so the next training is compared against it.
 * Flag parsing and printing only: the job is in `src/jobs/import_job_deno.ts`.
 *
 * @module
 */
import { parseArgs } from "#args";
import { type ImportJobSpec, runImportJob } from "../src/jobs/import_job_deno.ts";
import { parseDevice } from "../src/runtime/backend.ts";
import { expandAbbreviations } from "./_abbreviations.ts";
import { integerFlag } from "./_cli.ts";

/** `--help` text: documents every flag. */
export const IMPORT_HELP = `deno task import: register the PyTorch pipeline's champion

Usage:
  deno task import --checkpoint artifacts/best.pt --npz data/val_sequences.npz [options]

Evaluates the .pt with the pipeline's own forward (its args say which), records it as an
MLflow run (params from its args, val_macro_f1 of this evaluation, the .pt, its
feature_stats.json and the evaluation bundle), and registers it under --alias when no model
version holds that alias yet. From then on deno task promote compares every new run with it
on the same validation data. When the alias is held, the run is recorded and not registered:
promote it with deno task promote --run-id <id> under the usual policy.

Flags (any unambiguous prefix works, as argparse allows):
  --checkpoint <file.pt>        the pipeline's checkpoint (required)
  --npz <file>                  validation sequences to evaluate it on (required)
  --feature-stats <json>        default: feature_stats.json beside the .pt, else
                                artifacts/feature_stats.json
  --output-dir <dir>            where the evaluation bundle is written
                                (default artifacts/evaluations/imported)
  --experiment <name>           default: MLFLOW_EXPERIMENT_NAME, else component-x-lstm
  --run-name <name>             default: imported-<file name>
  --model <name>                registered model (default component-x-lstm)
  --alias <name>                alias to set (default champion)
  --reason <text>               recorded with the version (default: imported from the PyTorch
                                pipeline)
  --user <name>                 who (default: USER)
  --device <name>               cpu, webgpu, cuda|gpu (hardware adapter), unset = auto
  --batch-size <n>              windows per forward pass (default 256)
  --calibration-bins <n>        reliability diagram bins (default 15)
  --mlflow-tracking-uri <uri>   server or folder (default: MLFLOW_TRACKING_URI, else ./mlruns)
  -h, --help                    show this help

Exit status: 0 registered, 2 recorded but not registered (alias held), 1 error.
`;

const FLAGS = {
  checkpoint: { type: "string" },
  npz: { type: "string" },
  "feature-stats": { type: "string" },
  "output-dir": { type: "string" },
  experiment: { type: "string" },
  "run-name": { type: "string" },
  model: { type: "string" },
  alias: { type: "string" },
  reason: { type: "string" },
  user: { type: "string" },
  device: { type: "string" },
  "batch-size": { type: "string" },
  "calibration-bins": { type: "string" },
  "mlflow-tracking-uri": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** Parses argv into the job's spec (`null` for --help); `env` gives USER and the experiment. */
export function parseImportArgs(
  args: string[],
  env: Record<string, string | undefined> = {},
): ImportJobSpec | null {
  let values;
  try {
    const valueFlags = Object.keys(FLAGS).filter((f) => f !== "help");
    const full = expandAbbreviations(args, Object.keys(FLAGS), valueFlags);
    ({ values } = parseArgs({ args: full, options: FLAGS, strict: true, allowPositionals: false }));
  } catch (cause) {
    throw new TypeError(
      `Cannot parse import flags: ${(cause as Error).message}. Allowed flags: ${
        Object.keys(FLAGS).map((f) => `--${f}`).join(", ")
      }`,
      { cause },
    );
  }
  if (values.help) return null;
  for (const flag of ["checkpoint", "npz"] as const) {
    if (!values[flag]) throw new TypeError(`Cannot import: --${flag} is required (see --help)`);
  }
  const device = values.device ?? "";
  parseDevice(device);
  const alias = values.alias ?? "champion";
  if (!/^[A-Za-z0-9_-]+$/.test(alias) || /^v\d+$/i.test(alias) || alias === "latest") {
    throw new RangeError(
      `Cannot parse --alias: expected letters, digits, "_" or "-" (not "latest" or v<number>), received "${alias}"`,
    );
  }
  return {
    checkpoint: values.checkpoint!,
    npz: values.npz!,
    featureStats: values["feature-stats"] ?? "",
    outputDir: values["output-dir"] ?? "artifacts/evaluations/imported",
    experiment: values.experiment ?? env.MLFLOW_EXPERIMENT_NAME ?? "component-x-lstm",
    runName: values["run-name"] ?? "",
    registry: { model: values.model ?? "component-x-lstm", alias },
    reason: values.reason ?? "",
    user: values.user ?? env.USER ?? env.USERNAME ?? "unknown",
    device,
    batchSize: values["batch-size"] ? integerFlag("batch-size", values["batch-size"], 1) : 256,
    nBins: values["calibration-bins"]
      ? integerFlag("calibration-bins", values["calibration-bins"], 1)
      : 15,
    mlflowTrackingUri: values["mlflow-tracking-uri"] ?? "",
  };
}

/** Runs the command; returns 0 registered, 2 not registered, 1 error. Only this catches. */
export async function main(args: string[]): Promise<number> {
  try {
    const env = Deno.env.toObject();
    const spec = parseImportArgs(args, env);
    if (spec === null) {
      console.log(IMPORT_HELP);
      return 0;
    }
    const r = await runImportJob(spec, { env, log: (line) => console.log(line) });
    console.log(
      `Imported ${spec.checkpoint} as run ${r.runName} (${r.runId}): val macro-F1 ` +
        `${r.valMacroF1.toFixed(4)} (always-0 baseline ${r.baselineMacroF1.toFixed(4)})`,
    );
    if (r.version === null) {
      console.log(
        `Not registered: "${spec.registry.alias}" of ${spec.registry.model} is held by version ` +
          `${r.heldBy!.version} (run ${r.heldBy!.runId}); to replace it under the promotion ` +
          `policy: deno task promote --run-id ${r.runId} --inspected`,
      );
      return 2;
    }
    console.log(
      `Registered ${spec.registry.model} version ${r.version} as "${spec.registry.alias}"; ` +
        "deno task promote now compares new runs with it",
    );
    return 0;
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
