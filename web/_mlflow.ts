/**
 * Logs a browser training run to MLflow through the demo server's same-origin proxy
 * (`/mlflow/...`), with the same job as the CLI ("start a tracked training": run naming,
 * params, tags, non-blocking logger). The page never holds credentials: the server adds
 * them. It does hold the server's proxy token (a `<meta name="demo-token">` in the page as
 * served) and sends it with every call.
 *
 * @module
 */
import { DEFAULT_SEQUENCE_KEYS } from "../src/data/sequence_dataset.ts";
import type { RuntimeInfo } from "../src/runtime/backend.ts";
import { RestStore } from "../src/tracking/rest_store.ts";
import { taskParams, trainingParams } from "../src/jobs/run_spec.ts";
import { type Task, taskToJson } from "../src/metrics/task.ts";
import { trainingRunTags } from "../src/jobs/run_tags.ts";
import { startTrackedTraining, type TrackedTraining } from "../src/jobs/tracked_training.ts";
import type { TrainConfig } from "../src/train/config.ts";
import { DEMO_TOKEN_HEADER } from "./_demo_token.ts";

/** What the page's run records beyond the model and loop settings. */
export interface DemoMlflowContext {
  /** `location.origin + "/mlflow"`: the proxy. */
  readonly proxyUri: string;
  readonly experiment: string;
  /** The device picked in the form ("" = auto). */
  readonly device: string;
  readonly runtime: RuntimeInfo;
  readonly windowSize: number;
  /** Where the data came from, in words (tag `data.source`). */
  readonly dataSource: string;
  /** The task trained for: params and the `task.json` artifact. */
  readonly task: Task;
  /** Files uploaded when the run ends (`metrics.csv`, `feature_stats.json`). */
  readonly finalArtifacts: () => Record<string, Uint8Array>;
  readonly log: (line: string) => void;
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

/** Opens the experiment (created if missing) and a run; returns its hooks and logger. */
export function startDemoMlflowRun(
  config: TrainConfig,
  ctx: DemoMlflowContext,
): Promise<TrackedTraining> {
  const store = new RestStore({
    uri: ctx.proxyUri,
    fetch: fetchWithDemoToken(),
    retry: { maxRetries: 2 },
    timeoutMs: 30_000,
  });
  return startTrackedTraining({
    store,
    experiment: ctx.experiment,
    runName: "",
    naming: { dataVersion: "", windowSize: ctx.windowSize, modelTag: "" },
    params: {
      ...trainingParams(config.model, config.loop, {
        ...DEFAULT_SEQUENCE_KEYS,
        device: ctx.device,
        mlflow: true,
        mlflowExperiment: ctx.experiment,
      }),
      ...taskParams(ctx.task),
    },
    tags: trainingRunTags({
      user: "browser-demo",
      sourceName: "web/app.ts",
      runtime: ctx.runtime,
      dataVersion: "",
      modelTag: "",
      extra: {
        "runtime.browser": navigator.userAgent.slice(0, 250),
        "data.source": ctx.dataSource.slice(0, 250),
      },
    }),
    userId: "browser-demo",
    finalArtifacts: () =>
      Promise.resolve({
        ...ctx.finalArtifacts(),
        "task.json": new TextEncoder().encode(JSON.stringify(taskToJson(ctx.task), null, 2) + "\n"),
      }),
    endTimeoutMs: 20_000,
    log: ctx.log,
  });
}
