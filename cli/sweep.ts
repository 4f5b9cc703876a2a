/**
 * `deno task sweep`: flags -> one shard of a sweep (grid or seeded random search) run as
 * child trainings of one MLflow parent run. Flag parsing, validation of every trial's train
 * flags, and printing only: the job is in `src/jobs/sweep_job_deno.ts`.
 *
 * @module
 */
import { parseArgs } from "#args";
import { invokedSourceName } from "../src/jobs/source_info_deno.ts";
import {
  parseGrid,
  parseShard,
  parseSpace,
  type Shard,
  type SweepDefinition,
  sweepTrials,
  trialArgs,
} from "../src/jobs/sweep.ts";
import { runSweepJob } from "../src/jobs/sweep_job_deno.ts";
import { parseTrainArgs } from "./_train_flags.ts";
import { flagsError, integerFlag, runMain } from "./_cli.ts";

/** `--help` of `deno task sweep`. */
export const SWEEP_HELP =
  `deno task sweep (--grid FILE | --random N --space FILE) [flags] -- [train flags]

Runs trainings as child runs of one MLflow parent run: every combination of a grid, or N
seeded random draws from a search space. The train flags after -- are shared by every trial
(data, epochs, device, --mlflow-tracking-uri, --mlflow-experiment, ...); the swept keys are
train flags without their dashes.

  grid.json   {"lr": [0.001, 0.0003], "hidden-size": [32, 64]}              (4 trials)
  space.json  {"lr": {"loguniform": [0.0001, 0.01]}, "dropout": {"uniform": [0, 0.5]},
               "hidden-size": {"choice": [32, 64, 128]}, "num-layers": {"int": [1, 3]}}

Several machines split one sweep with --shard: each runs trials i, i+n, i+2n, ... of the
same list and logs to the same tracking server, which is the only coordination point (the
first shard to start creates the parent run, the others join it). A shard run again skips
the trials that finished. The parent run gets best_val_macro_f1, tags naming the best child
and sweep_results.csv (every child side by side); it ends when every trial has ended.

Flags
  --grid FILE          every combination of the lists in FILE
  --random N           N trials drawn from --space FILE
  --space FILE         the search space of --random
  --seed N             seed of the random draws (default 0); the same on every machine
  --shard i/n          run the i-th of n shares of the trials (default 1/1)
  --parallel K         trainings at a time in this process (default 1)
  --output-dir DIR     trial folders go to DIR/<sweep id>/trial-<n>/ (default artifacts/sweeps)
  --sweep-id ID        name the sweep yourself; default: a hash of the definition, the
                       experiment and the shared model/loop settings (not paths or device),
                       so every machine derives the same one
  --name NAME          the parent run's name (default: the sweep id)
  -h, --help           print this help

Exit status: 0 when every trial of this shard finished, 2 when one failed, 130 after Ctrl-C
(running trials finish their step and end KILLED), 1 on bad input.
`;

const FLAGS = {
  grid: { type: "string" },
  random: { type: "string" },
  space: { type: "string" },
  seed: { type: "string" },
  shard: { type: "string" },
  parallel: { type: "string" },
  "output-dir": { type: "string" },
  "sweep-id": { type: "string" },
  name: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** Train flags the sweep sets for each trial itself. */
const RESERVED_TRAIN_FLAGS = [
  "output-dir",
  "mlflow-run-name",
  "mlflow-parent-run-id",
  "resume-from",
  "help",
];

/** The resolved flags of `deno task sweep`. */
export interface SweepCliOptions {
  readonly help: boolean;
  readonly definition: SweepDefinition;
  readonly shard: Shard;
  readonly parallel: number;
  readonly outputDir: string;
  readonly sweepId: string;
  readonly name: string;
  readonly trainArgs: readonly string[];
}

async function readFile(flag: string, path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (cause) {
    throw new Error(`Cannot read --${flag} ${path}: ${(cause as Error).message}`, { cause });
  }
}

/** Parses argv (files are read); throws naming the flag on bad input. */
export async function parseSweepArgs(args: readonly string[]): Promise<SweepCliOptions> {
  const dash = args.indexOf("--");
  const own = dash < 0 ? [...args] : args.slice(0, dash);
  const trainArgs = dash < 0 ? [] : args.slice(dash + 1);
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: own, options: FLAGS, strict: true, allowPositionals: false }));
  } catch (cause) {
    throw flagsError("sweep", cause, Object.keys(FLAGS).map((f) => `--${f}`));
  }
  const s = (k: keyof typeof FLAGS) => values[k] as string | undefined;
  const empty = {
    help: true,
    definition: { kind: "grid", grid: {} },
    shard: { index: 1, count: 1 },
    parallel: 1,
    outputDir: "",
    sweepId: "",
    name: "",
    trainArgs,
  } as const;
  if (values.help === true) return empty;
  let definition: SweepDefinition;
  const grid = s("grid"), random = s("random"), space = s("space");
  if ((grid === undefined) === (random === undefined)) {
    throw new TypeError(
      "Cannot start a sweep: pass exactly one of --grid FILE and --random N --space FILE",
    );
  }
  if (grid !== undefined) {
    if (space !== undefined || s("seed") !== undefined) {
      throw new TypeError("Cannot use --space or --seed with --grid: they belong to --random");
    }
    definition = { kind: "grid", grid: parseGrid(await readFile("grid", grid), grid) };
  } else {
    if (space === undefined) throw new TypeError("Cannot use --random without --space FILE");
    definition = {
      kind: "random",
      space: parseSpace(await readFile("space", space), space),
      count: integerFlag("random", random!, 1),
      seed: s("seed") === undefined ? 0 : integerFlag("seed", s("seed")!, 0),
    };
  }
  const sweepId = s("sweep-id") ?? "";
  if (sweepId !== "" && !/^[\w.-]{1,64}$/.test(sweepId)) {
    throw new RangeError(
      `Cannot use --sweep-id ${JSON.stringify(sweepId)}: expected 1-64 letters, digits, ., _ or -`,
    );
  }
  const name = s("name") ?? "";
  if (name !== "" && !/^[\w.\- ]{1,200}$/.test(name)) {
    throw new RangeError(
      `Cannot use --name ${JSON.stringify(name)}: expected letters, digits, spaces, ., _ or -`,
    );
  }
  return {
    help: false,
    definition,
    shard: s("shard") === undefined ? { index: 1, count: 1 } : parseShard(s("shard")!),
    parallel: s("parallel") === undefined ? 1 : integerFlag("parallel", s("parallel")!, 1),
    outputDir: s("output-dir") ?? "artifacts/sweeps",
    sweepId,
    name,
    trainArgs,
  };
}

/**
 * Checks the shared train flags and every trial's flags with train's own parser (so a bad
 * value fails now, not in the middle of the sweep); returns the shared job.
 */
export function checkTrainArgs(options: SweepCliOptions) {
  for (const arg of options.trainArgs) {
    const flag = arg.startsWith("--") ? arg.slice(2).split("=")[0] : "";
    if (RESERVED_TRAIN_FLAGS.includes(flag)) {
      throw new RangeError(
        `Cannot pass --${flag} after --: the sweep sets it for each trial (the sweep's own ` +
          "--output-dir sets where trials go)",
      );
    }
  }
  const base = parseTrainArgs(options.trainArgs).job;
  const swept = Object.keys(
    options.definition.kind === "grid" ? options.definition.grid : options.definition.space,
  );
  for (const key of swept) {
    if (RESERVED_TRAIN_FLAGS.includes(key) || key.startsWith("mlflow")) {
      throw new RangeError(`Cannot sweep over --${key}: the sweep sets it for each trial`);
    }
    if (options.trainArgs.some((a) => a === `--${key}` || a.startsWith(`--${key}=`))) {
      throw new RangeError(
        `Cannot sweep over --${key}: it is also among the shared train flags after --`,
      );
    }
  }
  for (const [i, trial] of sweepTrials(options.definition).entries()) {
    try {
      parseTrainArgs([...options.trainArgs, ...trialArgs(trial)]);
    } catch (cause) {
      throw new RangeError(`Cannot run trial ${i + 1}: ${(cause as Error).message}`, { cause });
    }
  }
  return base;
}

/** Runs `deno task sweep` with `args`; returns the exit status. */
export async function main(args: readonly string[]): Promise<number> {
  const options = await parseSweepArgs(args);
  if (options.help) {
    console.log(SWEEP_HELP);
    return 0;
  }
  const base = checkTrainArgs(options);
  const controller = new AbortController();
  const onSigint = () => {
    console.log("\ninterrupt: stopping the running trials (they finish their step)");
    controller.abort();
  };
  Deno.addSignalListener("SIGINT", onSigint);
  try {
    const result = await runSweepJob({
      definition: options.definition,
      trainArgs: options.trainArgs,
      baseSettings: { model: base.model, loop: base.loop },
      trackingUri: base.run.mlflowTrackingUri,
      experiment: base.run.mlflowExperiment,
      shard: options.shard,
      parallel: options.parallel,
      outputDir: options.outputDir,
      sweepId: options.sweepId,
      name: options.name,
    }, {
      trainCommand: [Deno.execPath(), "run", "-A", new URL("./train.ts", import.meta.url).pathname],
      log: (line) => console.log(line),
      signal: controller.signal,
      sourceName: invokedSourceName(),
    });
    console.log(
      `parent run ${result.parentRunName} (${result.parentRunId}) in ${result.location}: ` +
        "sweep_results.csv compares the children",
    );
    if (result.interrupted) return 130;
    return result.trials.every((t) => t.outcome === "finished" || t.outcome === "skipped") ? 0 : 2;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
  }
}

if (import.meta.main) await runMain(main);
