/**
 * CLI glue for MLflow tracking: resolves the tracking URI and credentials from flags and
 * MLflow's environment variables, opens the store, starts the run with its tags, and
 * returns the hooks for the training loop. The work is in `src/tracking/`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { TrainConfig } from "../src/train/config.ts";
import type { TrainHooks } from "../src/train/hooks.ts";
import type { RuntimeInfo } from "../src/runtime/backend.ts";
import { FileStore } from "../src/tracking/file_store.ts";
import { absolutePath, denoFileSystem } from "../src/tracking/file_system_deno.ts";
import {
  type MlflowCredentials,
  redactUri,
  RestStore,
  type RetryPolicy,
} from "../src/tracking/rest_store.ts";
import { RunLogger, type RunLoggerSummary } from "../src/tracking/run_logger.ts";
import { denoSpool } from "../src/tracking/spool_deno.ts";
import { startTrackedRun } from "../src/tracking/start_tracked_run.ts";
import type { TrackingStore } from "../src/tracking/tracking_store.ts";

/** What the CLI knows besides the config. */
export interface TrackingContext {
  /** Window length read from the data (the `l128` of the run name). */
  windowSize: number;
  /** Input files to fingerprint: name -> path (tag `input.<name>.sha256`). */
  inputFiles?: Readonly<Record<string, string>>;
  /** Backend selection outcome (tags `runtime.backend`, `runtime.adapter`). */
  runtime?: Pick<RuntimeInfo, "backend" | "adapter" | "isFallbackAdapter">;
  /** Where `metrics.csv` is and the spool goes (default `config.outputDir`). */
  outputDir?: string;
  /** Environment (default `Deno.env.toObject()`). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Where progress lines go (default console.log). */
  log?: (line: string) => void;
  /** `mlflow.source.name` (default `cli/train.ts`). */
  sourceName?: string;
  /** Injected `fetch` (tests). */
  fetch?: typeof fetch;
  /** REST retry policy (tests shorten it). */
  retry?: Partial<RetryPolicy>;
  /** How long the run's end keeps retrying a down server (default 60 s). */
  endTimeoutMs?: number;
}

/** An open MLflow run of a training. */
export interface MlflowTracking {
  /** Add these to the training loop's hooks (after the metrics.csv hook). */
  hooks: TrainHooks;
  runId: string;
  runName: string;
  experimentId: string;
  /** Tracking URI or mlruns path, without credentials. */
  location: string;
  store: TrackingStore;
  logger: RunLogger;
  /** Folder where unsent records are spooled. */
  spoolDir: string;
  /** Resolves with the logger's counters once the run has ended. */
  ended: Promise<RunLoggerSummary>;
}

/** The store for a tracking URI: http(s) = server, `file:` or a path = `./mlruns` layout. */
export function openTrackingStore(
  uri: string,
  env: Readonly<Record<string, string | undefined>>,
  options: { fetch?: typeof fetch; retry?: Partial<RetryPolicy> } = {},
): TrackingStore {
  if (/^https?:\/\//i.test(uri)) {
    return new RestStore({
      uri,
      fetch: options.fetch,
      credentials: credentialsFromEnv(env),
      retry: options.retry,
    });
  }
  if (uri.startsWith("file:")) {
    return new FileStore(denoFileSystem(), absolutePath(decodeURIComponent(new URL(uri).pathname)));
  }
  if (/^[a-z][a-z0-9+.-]+:/i.test(uri) && !/^[A-Za-z]:[\\/]/.test(uri)) {
    throw new TypeError(
      `Cannot open tracking URI "${redactUri(uri)}": scheme not supported; allowed: ` +
        `http://, https://, file: or a folder path (e.g. ./mlruns). For sqlite: or ` +
        `databricks, run an MLflow server on it and pass its http:// URI`,
    );
  }
  return new FileStore(denoFileSystem(), absolutePath(uri));
}

/** MLflow's credential variables: username/password (Basic) win over the token (Bearer). */
export function credentialsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): MlflowCredentials | null {
  const username = env.MLFLOW_TRACKING_USERNAME, password = env.MLFLOW_TRACKING_PASSWORD;
  if (username && password !== undefined) return { kind: "basic", username, password };
  if (env.MLFLOW_TRACKING_TOKEN) return { kind: "bearer", token: env.MLFLOW_TRACKING_TOKEN };
  return null;
}

async function sha256File(path: string): Promise<string> {
  const bytes = await Deno.readFile(path);
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The commit of the toolkit's checkout (where cli/train.ts lives), like MLflow's source tag. */
async function gitCommit(): Promise<string | null> {
  try {
    const out = await new Deno.Command("git", {
      args: ["rev-parse", "HEAD"],
      cwd: new URL("..", import.meta.url).pathname,
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
    const text = await Deno.readTextFile(new URL("../deno.json", import.meta.url));
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

/** The run's tags: MLflow's system tags, then ours. Never credentials. */
export async function trackingTags(
  config: TrainConfig,
  ctx: TrackingContext,
  env: Readonly<Record<string, string | undefined>>,
): Promise<Record<string, string>> {
  const user = env.USER || env.USERNAME || env.LOGNAME || "unknown";
  const tags: Record<string, string> = {
    "mlflow.user": user,
    "mlflow.source.name": ctx.sourceName ?? "cli/train.ts",
    "mlflow.source.type": "LOCAL",
    "toolkit.version": await toolkitVersion(),
    "runtime.deno": Deno.version.deno,
    "runtime.tfjs": (tf.version as Record<string, string>)["tfjs"] ?? tf.version_core,
  };
  const commit = await gitCommit();
  if (commit !== null) tags["mlflow.source.git.commit"] = commit;
  if (ctx.runtime) {
    tags["runtime.backend"] = ctx.runtime.backend;
    tags["runtime.adapter"] = ctx.runtime.adapter ?? "none";
    tags["runtime.fallback_adapter"] = String(ctx.runtime.isFallbackAdapter);
  }
  if (config.dataVersion) tags["data.version"] = config.dataVersion;
  if (config.modelTag) tags["model.tag"] = config.modelTag;
  for (const [name, path] of Object.entries(ctx.inputFiles ?? {})) {
    try {
      tags[`input.${name}.sha256`] = await sha256File(path);
    } catch (cause) {
      throw new Error(
        `Cannot fingerprint input ${name} (${path}) for MLflow: ${(cause as Error).message}`,
        { cause },
      );
    }
  }
  return tags;
}

/**
 * Opens the MLflow run for `deno task train --mlflow` and returns its hooks.
 *
 * @example
 * ```ts ignore
 * if (config.mlflow) {
 *   hooks.push((await startMlflowTracking(config, { windowSize: trainData.steps, runtime })).hooks);
 * }
 * ```
 */
export async function startMlflowTracking(
  config: TrainConfig,
  ctx: TrackingContext,
): Promise<MlflowTracking> {
  const env = ctx.env ?? Deno.env.toObject();
  const log = ctx.log ?? ((line: string) => console.log(line));
  const uri = config.mlflowTrackingUri || env.MLFLOW_TRACKING_URI || "./mlruns";
  const store = openTrackingStore(uri, env, { fetch: ctx.fetch, retry: ctx.retry });
  const tags = await trackingTags(config, ctx, env);
  const { experimentId, run } = await startTrackedRun({
    store,
    config,
    windowSize: ctx.windowSize,
    tags,
    userId: tags["mlflow.user"],
  });
  const outputDir = ctx.outputDir ?? config.outputDir;
  const spoolDir = `${outputDir}/mlflow_spool/${run.runId}`;
  const logger = new RunLogger({
    store,
    runId: run.runId,
    spool: denoSpool(spoolDir, { trackingUri: store.location, runId: run.runId, experimentId }),
    endTimeoutMs: ctx.endTimeoutMs,
    onWarning: log,
    finalArtifacts: async (l) => {
      const files: Record<string, Uint8Array> = {};
      files["metrics.csv"] = (await readIfExists(`${outputDir}/metrics.csv`)) ??
        new TextEncoder().encode(l.metricsCsv());
      const stats = (await readIfExists(config.featureStats)) ??
        (await readIfExists(`${outputDir}/feature_stats.json`));
      if (stats !== null) files["feature_stats.json"] = stats;
      return files;
    },
  });
  log(
    `MLflow: run ${run.runName} (${run.runId}) in experiment ${config.mlflowExperiment} at ${store.location}`,
  );
  let resolveEnded!: (s: RunLoggerSummary) => void;
  const ended = new Promise<RunLoggerSummary>((resolve) => (resolveEnded = resolve));
  const hooks: TrainHooks = {
    ...logger.hooks,
    onEnd: async (result) => {
      await logger.hooks.onEnd?.(result);
      const s = logger.summary();
      log(
        `MLflow: run ${run.runName} ${result.status}; ${s.sent} records sent` +
          (s.spooled > 0
            ? `, ${s.spooled} left in ${spoolDir} (deno task mlflow-sync --spool ${spoolDir} --to ${store.location})`
            : ""),
      );
      resolveEnded(s);
    },
  };
  return {
    hooks,
    runId: run.runId,
    runName: run.runName,
    experimentId,
    location: store.location,
    store,
    logger,
    spoolDir,
    ended,
  };
}
