/**
 * Logs a browser training run to MLflow through the demo server's same-origin proxy
 * (`/mlflow/...`), with the toolkit's own REST store, run naming and non-blocking logger.
 * The page never holds credentials: the server adds them. It does hold the server's proxy
 * token (a `<meta name="demo-token">` in the page as served) and sends it with every call.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { RuntimeInfo } from "../src/runtime/backend.ts";
import { RestStore } from "../src/tracking/rest_store.ts";
import { RunLogger } from "../src/tracking/run_logger.ts";
import { startTrackedRun } from "../src/tracking/start_tracked_run.ts";
import type { TrainConfig } from "../src/train/config.ts";
import { DEMO_TOKEN_HEADER } from "./_mlflow_proxy.ts";

/** A started MLflow run of the page. */
export interface DemoMlflowRun {
  readonly runId: string;
  readonly runName: string;
  readonly experimentId: string;
  readonly logger: RunLogger;
}

/** What the run records beyond the config. */
export interface DemoMlflowContext {
  /** `location.origin + "/mlflow"`: the proxy. */
  readonly proxyUri: string;
  readonly runtime: RuntimeInfo;
  readonly windowSize: number;
  /** Where the data came from, in words (tag `data.source`). */
  readonly dataSource: string;
  /** Files uploaded when the run ends (`metrics.csv`, `feature_stats.json`). */
  readonly finalArtifacts: () => Record<string, Uint8Array>;
  readonly onWarning: (line: string) => void;
}

/** `fetch` that adds the proxy token the demo server embedded in the page. */
function fetchWithDemoToken(): typeof fetch {
  const token = document.querySelector<HTMLMetaElement>('meta[name="demo-token"]')?.content ?? "";
  return (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set(DEMO_TOKEN_HEADER, token);
    return fetch(input, { ...init, headers });
  };
}

/** Opens the experiment (created if missing) and a run; returns its logger. */
export async function startDemoMlflowRun(
  config: TrainConfig,
  ctx: DemoMlflowContext,
): Promise<DemoMlflowRun> {
  const store = new RestStore({
    uri: ctx.proxyUri,
    fetch: fetchWithDemoToken(),
    retry: { maxRetries: 2 },
    timeoutMs: 30_000,
  });
  const tags: Record<string, string> = {
    "mlflow.user": "browser-demo",
    "mlflow.source.name": "web/app.ts",
    "mlflow.source.type": "LOCAL",
    "runtime.browser": navigator.userAgent.slice(0, 250),
    "runtime.tfjs": (tf.version as Record<string, string>)["tfjs"] ?? tf.version_core,
    "runtime.backend": ctx.runtime.backend,
    "runtime.adapter": ctx.runtime.adapter ?? "none",
    "runtime.fallback_adapter": String(ctx.runtime.isFallbackAdapter),
    "data.source": ctx.dataSource.slice(0, 250),
  };
  if (config.dataVersion) tags["data.version"] = config.dataVersion;
  if (config.modelTag) tags["model.tag"] = config.modelTag;
  const { experimentId, run } = await startTrackedRun({
    store,
    config,
    windowSize: ctx.windowSize,
    tags,
    userId: "browser-demo",
  });
  const logger = new RunLogger({
    store,
    runId: run.runId,
    finalArtifacts: () => Promise.resolve(ctx.finalArtifacts()),
    endTimeoutMs: 20_000,
    onWarning: ctx.onWarning,
  });
  return { runId: run.runId, runName: run.runName, experimentId, logger };
}
