/**
 * Deno edge of `deno task sweep`: opens (or joins) the sweep's parent run on the tracking
 * server, runs this shard's trials as `deno task train` child processes (at most `parallel`
 * at a time, each a child run of the parent, its output in `<output dir>/trial-<n>/`),
 * skips trials an earlier run of the shard finished, and summarizes the sweep into the
 * parent. Ctrl-C (the signal) stops the running trials the way train's own Ctrl-C does.
 *
 * @module
 */
import { openTrackingStore } from "../tracking/open_tracking_store_deno.ts";
import { redactUri } from "../tracking/tracking_uri.ts";
import { trainingRunTags } from "./run_tags.ts";
import { gitBranchAndRepoUrl } from "./source_info_deno.ts";
import {
  type Shard,
  shardTrialNumbers,
  type SweepDefinition,
  sweepId as computeSweepId,
  sweepTrials,
  type Trial,
  trialArgs,
} from "./sweep.ts";
import {
  openSweepParent,
  summarizeSweep,
  SWEEP_TAGS,
  sweepChildren,
  type SweepSummary,
} from "./sweep_parent.ts";

/** What one shard of a sweep runs. */
export interface SweepJobSpec {
  readonly definition: SweepDefinition;
  /** `deno task train` flags shared by every trial (validated by the caller). */
  readonly trainArgs: readonly string[];
  /** The model and loop settings those flags give: part of the sweep's id. */
  readonly baseSettings: unknown;
  readonly trackingUri: string;
  readonly experiment: string;
  readonly shard: Shard;
  readonly parallel: number;
  /** Where the trials' folders go; `<dir>/<sweep id>/trial-<n>/`. */
  readonly outputDir: string;
  /** "" = derived from the definition (the same on every machine). */
  readonly sweepId: string;
  /** The parent run's name; "" = the sweep id. */
  readonly name: string;
}

/** Options of {@link runSweepJob}. */
export interface SweepJobOptions {
  /** The command that trains: argv before the flags (default: this Deno on cli/train.ts). */
  readonly trainCommand: readonly string[];
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly log?: (line: string) => void;
  /** Abort = interrupt the running trials (SIGINT) and start no more. */
  readonly signal?: AbortSignal;
  /** `mlflow.source.name` of the parent run. */
  readonly sourceName?: string;
}

/** How one trial went in this process. */
export interface TrialOutcome {
  readonly trial: number;
  readonly args: readonly string[];
  /** "skipped" = an earlier run finished it. */
  readonly outcome: "finished" | "failed" | "interrupted" | "skipped";
  readonly exitCode: number | null;
  readonly seconds: number;
  readonly logFile: string;
}

/** What {@link runSweepJob} did. */
export interface SweepJobResult {
  readonly sweepId: string;
  readonly parentRunId: string;
  readonly parentRunName: string;
  readonly experimentId: string;
  /** True when this shard created the parent run. */
  readonly createdParent: boolean;
  readonly totalTrials: number;
  readonly trials: readonly TrialOutcome[];
  readonly summary: SweepSummary;
  readonly location: string;
  readonly interrupted: boolean;
}

/** The run-param names (`hidden_size`) of the swept flags (`hidden-size`). */
export function sweptParamNames(definition: SweepDefinition): string[] {
  const keys = Object.keys(definition.kind === "grid" ? definition.grid : definition.space);
  return keys.map((k) => k.replaceAll("-", "_"));
}

function describe(trial: Trial): string {
  return Object.entries(trial).map(([k, v]) => `${k}=${v}`).join(" ");
}

/** Runs one shard of a sweep; resolves when its trials ended and the parent is summarized. */
export async function runSweepJob(
  spec: SweepJobSpec,
  options: SweepJobOptions,
): Promise<SweepJobResult> {
  const env = options.env ?? Deno.env.toObject();
  const log = options.log ?? (() => {});
  const trials = sweepTrials(spec.definition);
  const id = spec.sweepId ||
    await computeSweepId(spec.experiment, spec.definition, spec.baseSettings);
  const name = spec.name || id;
  const store = await openTrackingStore(spec.trackingUri, env);
  const user = env.USER || env.USERNAME || env.LOGNAME || "unknown";
  const git = await gitBranchAndRepoUrl();
  const parent = await openSweepParent(store, {
    experiment: spec.experiment,
    sweepId: id,
    runName: name,
    userId: user,
    tags: {
      ...trainingRunTags({
        user,
        sourceName: options.sourceName ?? "cli/sweep.ts",
        gitBranch: git.branch,
        gitRepoUrl: git.repoUrl,
        dataVersion: "",
        modelTag: "",
      }),
      "sweep.kind": spec.definition.kind,
      "sweep.trials": String(trials.length),
    },
    params: {
      sweep_id: id,
      sweep_kind: spec.definition.kind,
      sweep_trials: String(trials.length),
      sweep_definition: JSON.stringify(spec.definition).slice(0, 6000),
      sweep_train_args: spec.trainArgs.map(redactUri).join(" ").slice(0, 6000),
    },
  });
  const parentId = parent.run.info.runId;
  const parentName = parent.run.info.runName;
  log(
    `sweep ${id}: ${trials.length} trials, shard ${spec.shard.index}/${spec.shard.count}; ` +
      `parent run ${parentName} (${parentId}) ${parent.created ? "created" : "joined"} in ` +
      `experiment ${spec.experiment} at ${store.location}`,
  );
  const params = sweptParamNames(spec.definition);
  const done = new Set(
    (await sweepChildren(store, parent, params)).filter((c) => c.status === "FINISHED").map((c) =>
      c.trial
    ),
  );
  const mine = shardTrialNumbers(trials.length, spec.shard);
  const outcomes: TrialOutcome[] = [];
  const queue: number[] = [];
  for (const t of mine) {
    const logFile = `${spec.outputDir}/${id}/trial-${t}/train.log`;
    if (done.has(t)) {
      log(`trial ${t}/${trials.length} (${describe(trials[t - 1])}): finished before, skipped`);
      outcomes.push({
        trial: t,
        args: [],
        outcome: "skipped",
        exitCode: null,
        seconds: 0,
        logFile,
      });
    } else queue.push(t);
  }

  const childEnv: Record<string, string> = { NO_COLOR: "1" };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v;
  childEnv.NO_COLOR = "1";
  const running = new Set<Deno.ChildProcess>();
  const onAbort = () => {
    for (const child of running) {
      try {
        child.kill("SIGINT");
      } catch { /* already gone */ }
    }
  };
  options.signal?.addEventListener("abort", onAbort);
  const runTrial = async (t: number): Promise<TrialOutcome> => {
    const dir = `${spec.outputDir}/${id}/trial-${t}`;
    await Deno.mkdir(dir, { recursive: true });
    const args = [
      ...spec.trainArgs,
      ...trialArgs(trials[t - 1]),
      "--output-dir",
      dir,
      // A trial not finished before (interrupted, failed) starts over in its folder.
      "--overwrite",
      "--mlflow",
      "--mlflow-tracking-uri",
      spec.trackingUri || store.location,
      "--mlflow-experiment",
      spec.experiment,
      "--mlflow-run-name",
      `${parentName}-trial${t}`,
      "--mlflow-parent-run-id",
      parentId,
      "--mlflow-tag",
      `${SWEEP_TAGS.id}=${id}`,
      "--mlflow-tag",
      `${SWEEP_TAGS.trial}=${t}`,
    ];
    const logFile = `${dir}/train.log`;
    const out = await Deno.open(logFile, { create: true, write: true, truncate: true });
    const t0 = performance.now();
    log(`trial ${t}/${trials.length} (${describe(trials[t - 1])}): started, log ${logFile}`);
    const [cmd, ...pre] = options.trainCommand;
    const child = new Deno.Command(cmd, {
      args: [...pre, ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: childEnv,
      clearEnv: options.env !== undefined,
    }).spawn();
    running.add(child);
    await Promise.all([
      child.stdout.pipeTo(out.writable, { preventClose: true }),
      child.stderr.pipeTo(out.writable),
    ]).catch(() => {});
    const status = await child.status;
    running.delete(child);
    const seconds = (performance.now() - t0) / 1000;
    const outcome = status.code === 0 ? "finished" : status.code === 130 ? "interrupted" : "failed";
    log(
      `trial ${t}/${trials.length}: ${outcome} in ${seconds.toFixed(1)} s` +
        (status.code === 0 ? "" : ` (exit ${status.code}; see ${logFile})`),
    );
    return { trial: t, args, outcome, exitCode: status.code, seconds, logFile };
  };
  const workers = Array.from({ length: Math.max(1, spec.parallel) }, async () => {
    while (queue.length > 0 && !options.signal?.aborted) {
      outcomes.push(await runTrial(queue.shift()!));
    }
  });
  try {
    await Promise.all(workers);
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }
  const summary = await summarizeSweep(store, parent, trials.length, params);
  const best = summary.best;
  log(
    `sweep ${id}: ${summary.children.filter((c) => c.status === "FINISHED").length}/` +
      `${trials.length} trials finished; parent ${summary.status}` +
      (best
        ? `; best trial ${best.trial} (${best.runName}) val_macro_f1 ${best.bestValMacroF1}`
        : ""),
  );
  return {
    sweepId: id,
    parentRunId: parentId,
    parentRunName: parentName,
    experimentId: parent.experimentId,
    createdParent: parent.created,
    totalTrials: trials.length,
    trials: outcomes.sort((a, b) => a.trial - b.trial),
    summary,
    location: store.location,
    interrupted: options.signal?.aborted ?? false,
  };
}
