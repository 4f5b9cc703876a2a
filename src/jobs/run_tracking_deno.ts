/**
 * Deno edge of "start a tracked training": opens the store the run spec names (flag, else
 * `MLFLOW_TRACKING_URI`, else `./mlruns`; credentials from MLflow's environment variables),
 * gathers the tags only Deno can know (git commit, Deno version, input fingerprints),
 * spools unsent records under `<output-dir>/mlflow_spool/<run id>/`, and uploads
 * `metrics.csv` and `feature_stats.json` when the run ends. The work is in
 * {@link startTrackedTraining}.
 *
 * @module
 */
import type { RuntimeInfo } from "../runtime/backend.ts";
import { currentUser } from "../tracking/current_user_deno.ts";
import { openTrackingStore } from "../tracking/open_tracking_store_deno.ts";
import type { RetryPolicy } from "../tracking/rest_transport.ts";
import { denoSpool } from "../tracking/spool_deno.ts";
import { type Task, taskToJson } from "../metrics/task.ts";
import type { TrainJobConfig } from "./run_spec.ts";
import { taskParams, trainingParams } from "./run_spec.ts";
import { trainingRunTags } from "./run_tags.ts";
import { gitBranchAndRepoUrl } from "./source_info_deno.ts";
import {
  startTrackedTraining,
  type TrackedTraining,
  type TrackedTrainingOptions,
} from "./tracked_training.ts";

/** What the job knows besides the config. */
export interface TrackingContext {
  /** Window length read from the data (the `l128` of the run name). */
  windowSize: number;
  /** The task trained for: logged as params and as the `task.json` artifact. */
  task?: Task;
  /** Input files to fingerprint: name -> path (tag `input.<name>.sha256`). */
  inputFiles?: Readonly<Record<string, string>>;
  /** Backend selection outcome (tags `runtime.backend`, `runtime.adapter`). */
  runtime?: Pick<RuntimeInfo, "backend" | "adapter" | "isFallbackAdapter">;
  /** Environment (default `Deno.env.toObject()`). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Where progress lines go (default none). */
  log?: (line: string) => void;
  /** `mlflow.source.name` (default `cli/train.ts`). */
  sourceName?: string;
  /** Injected `fetch` (tests). */
  fetch?: typeof fetch;
  /** REST retry policy (tests shorten it). */
  retry?: Partial<RetryPolicy>;
  /** How long the run's end keeps retrying a down server (default 60 s). */
  endTimeoutMs?: number;
  /** A resumed training: its checkpoint's run and epoch (see `startTrackedTraining`). */
  resume?: TrackedTrainingOptions["resume"];
}

/** A tracked training of the Deno job, with the folder where unsent records wait. */
export interface RunTracking extends TrackedTraining {
  /** Folder where unsent records are spooled. */
  readonly spoolDir: string;
  /** The tags the run was created with. */
  readonly tags: Readonly<Record<string, string>>;
}

async function sha256File(path: string): Promise<string> {
  const bytes = await Deno.readFile(path);
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The commit of the toolkit's checkout (where this file lives), like MLflow's source tag. */
async function gitCommit(): Promise<string | null> {
  try {
    const out = await new Deno.Command("git", {
      args: ["rev-parse", "HEAD"],
      cwd: new URL("../..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "null",
    }).output();
    const sha = new TextDecoder().decode(out.stdout).trim();
    return out.success && /^[0-9a-f]{40}$/.test(sha) ? sha : null;
  } catch {
    return null;
  }
}

async function toolkitVersion(): Promise<string> {
  try {
    const text = await Deno.readTextFile(new URL("../../deno.json", import.meta.url));
    return String((JSON.parse(text) as { version?: string }).version ?? "unknown");
  } catch {
    return "unknown";
  }
}

async function readIfExists(path: string): Promise<Uint8Array | null> {
  try {
    return await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** The run's tags: MLflow's system tags, the runtime, ours, input fingerprints. */
export async function trainJobTags(
  job: TrainJobConfig,
  ctx: TrackingContext,
  env: Readonly<Record<string, string | undefined>>,
): Promise<Record<string, string>> {
  const inputSha256: Record<string, string> = {};
  for (const [name, path] of Object.entries(ctx.inputFiles ?? {})) {
    try {
      inputSha256[name] = await sha256File(path);
    } catch (cause) {
      throw new Error(
        `Cannot fingerprint input ${name} (${path}) for MLflow: ${(cause as Error).message}`,
        { cause },
      );
    }
  }
  return trainingRunTags({
    user: currentUser(env),
    sourceName: ctx.sourceName ?? "cli/train.ts",
    runtime: ctx.runtime,
    gitCommit: await gitCommit(),
    ...await gitBranchAndRepoUrl().then((g) => ({ gitBranch: g.branch, gitRepoUrl: g.repoUrl })),
    parentRunId: job.run.mlflowParentRunId,
    userTags: job.run.mlflowTags,
    dataVersion: job.run.dataVersion,
    modelTag: job.run.modelTag,
    inputSha256,
    extra: { "toolkit.version": await toolkitVersion(), "runtime.deno": Deno.version.deno },
  });
}

/**
 * Opens the MLflow run of a training job and returns its hooks.
 *
 * @example
 * ```ts ignore
 * const tracking = await startRunTracking(job, { windowSize: trainData.steps, runtime });
 * hooks.push(tracking.hooks);
 * ```
 */
export async function startRunTracking(
  job: TrainJobConfig,
  ctx: TrackingContext,
): Promise<RunTracking> {
  const env = ctx.env ?? Deno.env.toObject();
  const log = ctx.log ?? (() => {});
  const { run } = job;
  const store = await openTrackingStore(run.mlflowTrackingUri, env, {
    fetch: ctx.fetch,
    retry: ctx.retry,
  });
  const tags = await trainJobTags(job, ctx, env);
  const spoolRoot = `${run.outputDir}/mlflow_spool`;
  const tracking = await startTrackedTraining({
    store,
    experiment: run.mlflowExperiment,
    runName: run.mlflowRunName,
    naming: { dataVersion: run.dataVersion, windowSize: ctx.windowSize, modelTag: run.modelTag },
    params: {
      ...trainingParams(job.model, job.loop, run),
      ...(ctx.task ? taskParams(ctx.task) : {}),
    },
    tags,
    userId: tags["mlflow.user"],
    spool: ({ runId, experimentId }) =>
      denoSpool(`${spoolRoot}/${runId}`, { trackingUri: store.location, runId, experimentId }),
    endTimeoutMs: ctx.endTimeoutMs,
    log,
    resume: ctx.resume,
    finalArtifacts: async (metricsCsvText) => {
      const files: Record<string, Uint8Array> = {};
      files["metrics.csv"] = (await readIfExists(`${run.outputDir}/metrics.csv`)) ??
        new TextEncoder().encode(metricsCsvText);
      const stats = (await readIfExists(run.featureStats)) ??
        (await readIfExists(`${run.outputDir}/feature_stats.json`));
      if (stats !== null) files["feature_stats.json"] = stats;
      if (ctx.task) {
        files["task.json"] = new TextEncoder().encode(
          JSON.stringify(taskToJson(ctx.task), null, 2) + "\n",
        );
      }
      return files;
    },
  });
  const spoolDir = `${spoolRoot}/${tracking.runId}`;
  tracking.ended.then((summary) => {
    if (summary.spooled > 0) {
      log(
        `MLflow: unsent records wait in ${spoolDir}; deno task mlflow-sync --spool ${spoolDir} ` +
          `--to ${store.location}`,
      );
    }
  });
  return { ...tracking, spoolDir, tags };
}
