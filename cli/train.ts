/**
 * `deno task train`: flags -> job config, printed once -> the training job with console
 * progress; Ctrl-C finishes the step. Flag parsing and printing only: the job is in
 * `src/jobs/train_job_deno.ts`, the loop in `src/train/`.
 *
 * @module
 */
import type { TrainJobConfig } from "../src/jobs/run_spec.ts";
import { invokedSourceName } from "../src/jobs/source_info_deno.ts";
import { runTrainJob } from "../src/jobs/train_job_deno.ts";
import type { RunTracking } from "../src/jobs/run_tracking_deno.ts";
import { NonFiniteLossError } from "../src/train/non_finite_loss_error.ts";
import { parseTrainArgs, RUN_SPEC_FLAGS } from "./_train_flags.ts";
import { TRAIN_HELP } from "./_train_help.ts";
import { consoleHooks } from "./_train_hooks.ts";
import { runMain } from "./_cli.ts";

/** Exit status of a run stopped by Ctrl-C (128 + SIGINT). */
export const EXIT_INTERRUPTED = 130;

/** Prints every setting of the job once, model, loop and run together. */
export function printJobConfig(job: TrainJobConfig): void {
  const flat = { ...job.model, ...job.loop, ...job.run };
  const width = Math.max(...Object.keys(flat).map((k) => k.length));
  console.log("config:");
  for (const [k, v] of Object.entries(flat)) {
    console.log(`  ${k.padEnd(width)}  ${JSON.stringify(v)}`);
  }
}

/**
 * Runs a training job with console progress; Ctrl-C finishes the current step (or
 * validation batch), writes `last/` and returns 130. A second Ctrl-C exits at once with
 * 130, after saving what MLflow has not received yet to the run's spool. Returns the exit
 * status.
 */
export async function runTrainJobFromCli(
  job: TrainJobConfig,
  sourceName = invokedSourceName(),
  given?: ReadonlySet<string>,
): Promise<number> {
  const controller = new AbortController();
  let tracking: RunTracking | null = null;
  const onSigint = async () => {
    if (!controller.signal.aborted) {
      console.log(
        "\ninterrupt: finishing the current step and writing last/ (Ctrl-C again to quit now)",
      );
      controller.abort();
      return;
    }
    if (tracking !== null) {
      const spooled = await tracking.logger.abandon("KILLED").catch((e: Error) => {
        console.error(`MLflow: cannot save unsent records: ${e.message}`);
        return 0;
      });
      if (spooled > 0) {
        console.log(
          `interrupt: quitting now; ${spooled} unsent MLflow records saved in ${tracking.spoolDir}; ` +
            `send them with deno task mlflow-sync --spool ${tracking.spoolDir} --to ${tracking.location}`,
        );
      }
    }
    Deno.exit(EXIT_INTERRUPTED);
  };
  Deno.addSignalListener("SIGINT", onSigint);
  try {
    const result = await runTrainJob(job, {
      hooks: [consoleHooks({ isTerminal: Deno.stdout.isTerminal(), epochs: job.loop.epochs })],
      signal: controller.signal,
      onTracking: (t) => (tracking = t),
      log: (line) => console.log(line),
      labels: RUN_SPEC_FLAGS,
      sourceName,
      given,
    });
    return result.status === "KILLED" ? EXIT_INTERRUPTED : 0;
  } catch (error) {
    if (error instanceof NonFiniteLossError) {
      throw new RangeError(
        `${error.message} (flags: --lr ${job.loop.lr}, --grad-clip ${job.loop.gradClip})`,
        { cause: error },
      );
    }
    throw error;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
  }
}

/** Runs `deno task train` with `args`; returns the exit status (0, or 130 after Ctrl-C). */
export async function main(args: readonly string[]): Promise<number> {
  const { help, job, given, warnings } = parseTrainArgs(args);
  if (help) {
    console.log(TRAIN_HELP);
    return 0;
  }
  for (const warning of warnings) console.error(warning);
  printJobConfig(job);
  return await runTrainJobFromCli(job, invokedSourceName(), given);
}

if (import.meta.main) await runMain(main);
