/**
 * `deno task quickstart`: sample data if there is none, then the seed guide's training
 * job scaled down to finish in about 2 minutes on 2 CPU cores, saying what it changed and
 * why. Any `deno task train` flag given here wins. Flag parsing and printing only: the job
 * is in `src/jobs/quickstart_deno.ts` and `src/jobs/train_job_deno.ts`.
 *
 * @module
 */
import {
  GUIDE_FLAGS,
  prepareQuickstartData,
  QUICKSTART_CHANGES,
  quickstartJob,
} from "../src/jobs/quickstart_deno.ts";
import { parseTrainArgs } from "./_train_flags.ts";
import { printJobConfig, runTrainJobFromCli } from "./train.ts";
import { runMain } from "./_cli.ts";

const QUICKSTART_HELP = `deno task quickstart [train flags]

End to end on sample data: writes data/train_sequences.npz, data/val_sequences.npz and
artifacts/feature_stats.json when missing (as \`deno task sample\`), then trains the guide's
BiLSTM (${GUIDE_FLAGS}) for
3 epochs into artifacts_quickstart/ and logs the run to ./mlruns (or MLFLOW_TRACKING_URI).
It prints every setting it changed from the guide and why. Any flag of \`deno task train\`
given here is passed on and wins (see \`deno task train --help\`).`;

/** Runs the quickstart; returns the exit status. `extraArgs` are train flags that win. */
export async function main(extraArgs: readonly string[] = []): Promise<number> {
  if (extraArgs.includes("--help") || extraArgs.includes("-h")) {
    console.log(QUICKSTART_HELP);
    return 0;
  }
  const t0 = performance.now();
  const data = await prepareQuickstartData((line) => console.log(line));
  // The caller's flags are checked before anything trains, and win over quickstart's.
  const { job } = parseTrainArgs(extraArgs, quickstartJob(data));
  console.log(`quickstart: the guide's ${GUIDE_FLAGS}, with:`);
  for (const c of QUICKSTART_CHANGES) console.log(`quickstart: ${c.flags}: ${c.why}`);
  printJobConfig(job);
  const status = await runTrainJobFromCli(job, "cli/quickstart.ts");
  console.log(
    `quickstart: finished in ${((performance.now() - t0) / 1000).toFixed(0)} s (status ${status})`,
  );
  return status;
}

if (import.meta.main) await runMain(main);
