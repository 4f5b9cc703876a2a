/**
 * `RestStore`: MLflow's REST API (`/api/2.0/mlflow/...`) over an injected `fetch`, with
 * MLflow's own client conventions: Basic or Bearer auth, NaN/Infinity as strings, retries
 * with exponential backoff and jitter, log-batch split to the server's limits, artifacts
 * through the server's `mlflow-artifacts` proxy.
 *
 * @module
 */
import { MlflowRequestError } from "./mlflow_request_error.ts";
import type {
  CreateRunOptions,
  MlflowArtifact,
  MlflowBatch,
  MlflowExperiment,
  MlflowMetric,
  MlflowModelVersion,
  MlflowRun,
  MlflowRunInfo,
  MlflowRunStatus,
  TrackingStore,
} from "./tracking_store.ts";

/** Credentials, read by the CLI from MLflow's environment variables. */
export type MlflowCredentials =
  | { kind: "basic"; username: string; password: string }
  | { kind: "bearer"; token: string };

/** Retry policy; MLflow's client retries 408/429/5xx and connection errors. */
export interface RetryPolicy {
  /** Retries after the first try (default 5). */
  maxRetries: number;
  /** First backoff in ms, doubled per retry (default 500). */
  baseDelayMs: number;
  /** Cap on one wait in ms, `Retry-After` included (default 30000). */
  maxDelayMs: number;
  /** Random extra wait in [0, jitterMs) (default 250). */
  jitterMs: number;
}

/** Options of `RestStore`. */
export interface RestStoreOptions {
  /** Tracking server base URI, e.g. `http://127.0.0.1:5000`. */
  uri: string;
  /** `fetch` to use (the global one by default). */
  fetch?: typeof fetch;
  credentials?: MlflowCredentials | null;
  retry?: Partial<RetryPolicy>;
  /** Waits; injectable for tests (default setTimeout). */
  sleep?: (ms: number) => Promise<void>;
  /** Random in [0, 1) for jitter (default Math.random). */
  random?: () => number;
  /** Per-try timeout in ms (default 60000). */
  timeoutMs?: number;
}

/** The server's log-batch limits. */
export const LOG_BATCH_LIMITS = Object.freeze({
  metrics: 1000,
  params: 100,
  tags: 100,
  items: 1000,
  bytes: 1_000_000,
});

const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);

/** JSON with non-finite numbers as MLflow's strings "NaN", "Infinity", "-Infinity". */
function toJson(body: unknown): string {
  return JSON.stringify(body, (_key, value) => {
    if (typeof value === "number" && !Number.isFinite(value)) {
      return Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
    }
    return value;
  });
}

function toNumber(value: unknown): number {
  if (value === "NaN") return NaN;
  if (value === "Infinity") return Infinity;
  if (value === "-Infinity") return -Infinity;
  return Number(value);
}

/** Removes `user:password@` from a URI, for messages. */
export function redactUri(uri: string): string {
  // Up to the last "@" of the authority: a password may itself contain "@".
  return uri.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, "$1");
}

/** Splits a batch into log-batch calls within `LOG_BATCH_LIMITS`. */
export function splitLogBatch(batch: MlflowBatch): MlflowBatch[] {
  type Item =
    | { kind: "params"; key: string; value: string }
    | { kind: "tags"; key: string; value: string }
    | { kind: "metrics"; metric: MlflowMetric };
  const items: Item[] = [
    ...Object.entries(batch.params ?? {}).map(([key, value]) => ({
      kind: "params" as const,
      key,
      value,
    })),
    ...Object.entries(batch.tags ?? {}).map(([key, value]) => ({
      kind: "tags" as const,
      key,
      value,
    })),
    ...(batch.metrics ?? []).map((metric) => ({ kind: "metrics" as const, metric })),
  ];
  const out: MlflowBatch[] = [];
  let current = {
    metrics: [] as MlflowMetric[],
    params: {} as Record<string, string>,
    tags: {} as Record<string, string>,
  };
  let counts = { metrics: 0, params: 0, tags: 0 };
  let bytes = 200; // envelope: run_id and the three keys
  const flush = () => {
    if (counts.metrics + counts.params + counts.tags === 0) return;
    const b: MlflowBatch = {};
    if (counts.metrics > 0) b.metrics = current.metrics;
    if (counts.params > 0) b.params = current.params;
    if (counts.tags > 0) b.tags = current.tags;
    out.push(b);
    current = { metrics: [], params: {}, tags: {} };
    counts = { metrics: 0, params: 0, tags: 0 };
    bytes = 200;
  };
  for (const item of items) {
    const size = item.kind === "metrics"
      ? toJson(item.metric).length + 1
      : toJson({ key: item.key, value: item.value }).length + 1;
    if (
      counts[item.kind] + 1 > LOG_BATCH_LIMITS[item.kind] ||
      counts.metrics + counts.params + counts.tags + 1 > LOG_BATCH_LIMITS.items ||
      bytes + size > LOG_BATCH_LIMITS.bytes
    ) flush();
    counts[item.kind]++;
    bytes += size;
    if (item.kind === "metrics") current.metrics.push(item.metric);
    else current[item.kind][item.key] = item.value;
  }
  flush();
  return out;
}

interface RawRun {
  info: Record<string, unknown>;
  data?: {
    params?: { key: string; value: string }[];
    tags?: { key: string; value: string }[];
    metrics?: { key: string; value: unknown; step?: unknown; timestamp?: unknown }[];
  };
}

/**
 * MLflow tracking server client.
 *
 * @example
 * ```ts ignore
 * const store = new RestStore({ uri: "http://127.0.0.1:5000" });
 * const run = await store.createRun({ experimentId: "1", runName: "r", userId: "me", startTime: Date.now() });
 * ```
 */
export class RestStore implements TrackingStore {
  readonly location: string;
  readonly #base: string;
  readonly #fetch: typeof fetch;
  readonly #auth: string | null;
  readonly #authSource: string | null;
  readonly #retry: RetryPolicy;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;
  readonly #timeoutMs: number;
  readonly #artifactUris = new Map<string, string>();

  /** A client for the server at `options.uri`. */
  constructor(options: RestStoreOptions) {
    let url: URL;
    try {
      url = new URL(options.uri);
    } catch (cause) {
      throw new TypeError(
        `Cannot use tracking URI "${
          redactUri(options.uri)
        }": not a URL; expected http(s)://host:port`,
        { cause },
      );
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError(
        `Cannot use tracking URI "${
          redactUri(options.uri)
        }" with RestStore: scheme ${url.protocol} ` +
          `is not http: or https:`,
      );
    }
    url.username = "";
    url.password = "";
    this.#base = url.toString().replace(/\/+$/, "");
    this.location = this.#base;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    const c = options.credentials ?? null;
    this.#auth = c === null
      ? null
      : c.kind === "basic"
      ? `Basic ${
        btoa(String.fromCharCode(...new TextEncoder().encode(`${c.username}:${c.password}`)))
      }`
      : `Bearer ${c.token}`;
    this.#authSource = c === null
      ? null
      : c.kind === "basic"
      ? "MLFLOW_TRACKING_USERNAME/PASSWORD"
      : "MLFLOW_TRACKING_TOKEN";
    this.#retry = {
      maxRetries: 5,
      baseDelayMs: 500,
      maxDelayMs: 30_000,
      jitterMs: 250,
      ...options.retry,
    };
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#random = options.random ?? Math.random;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
  }

  #retryDelay(attempt: number, retryAfter: string | null): number {
    let delay = this.#retry.baseDelayMs * 2 ** attempt + this.#random() * this.#retry.jitterMs;
    if (retryAfter !== null) {
      const seconds = Number(retryAfter);
      const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - Date.now();
      if (Number.isFinite(ms)) delay = Math.max(delay, ms);
    }
    return Math.min(delay, this.#retry.maxDelayMs);
  }

  /** One HTTP call with retries; returns the response of a 2xx answer. */
  async #send(
    method: string,
    path: string,
    body: BodyInit | null,
    contentType: string | null,
    action: string,
  ): Promise<Response> {
    const endpoint = `${method} ${path.split("?")[0]}`;
    let lastError: unknown = null;
    for (let attempt = 0; attempt <= this.#retry.maxRetries; attempt++) {
      if (attempt > 0) {
        const retryAfter = lastError instanceof Response
          ? lastError.headers.get("retry-after")
          : null;
        await this.#sleep(this.#retryDelay(attempt - 1, retryAfter));
      }
      const headers: Record<string, string> = {};
      if (contentType !== null) headers["content-type"] = contentType;
      if (this.#auth !== null) headers.authorization = this.#auth;
      let response: Response;
      try {
        response = await this.#fetch(`${this.#base}${path}`, {
          method,
          headers,
          body,
          signal: AbortSignal.timeout(this.#timeoutMs),
          // Credentials and data go to the configured server only: never follow a redirect.
          redirect: "manual",
        });
      } catch (error) {
        lastError = error;
        continue;
      }
      if (response.ok) return response;
      if (response.type === "opaqueredirect" || (response.status >= 300 && response.status < 400)) {
        throw await this.#redirectError(response, endpoint, action);
      }
      if (RETRY_STATUS.has(response.status) && attempt < this.#retry.maxRetries) {
        await response.body?.cancel();
        lastError = response;
        continue;
      }
      throw await this.#error(response, endpoint, action);
    }
    if (lastError instanceof Response) throw await this.#error(lastError, endpoint, action);
    throw new MlflowRequestError(
      `Cannot ${action} at ${this.#base}: no answer after ${this.#retry.maxRetries + 1} tries ` +
        `(${
          lastError instanceof Error ? lastError.message : String(lastError)
        }); is the server up?`,
      { status: 0, errorCode: "CONNECTION_ERROR", endpoint },
      { cause: lastError },
    );
  }

  async #redirectError(
    response: Response,
    endpoint: string,
    action: string,
  ): Promise<MlflowRequestError> {
    await response.body?.cancel();
    const location = response.headers.get("location");
    let where = "elsewhere";
    if (location !== null) {
      try {
        where = new URL(location, this.#base).origin;
      } catch { /* keep "elsewhere" */ }
    }
    return new MlflowRequestError(
      `Cannot ${action} at ${this.#base}: the server redirects (HTTP ${response.status}) to ` +
        `${where}; credentials and data are sent only to the configured tracking URI, so ` +
        `set it to the address the server redirects to`,
      { status: response.status, errorCode: "REDIRECT_REFUSED", endpoint },
    );
  }

  async #error(response: Response, endpoint: string, action: string): Promise<MlflowRequestError> {
    let text = "";
    try {
      text = await response.text();
    } catch { /* body unreadable: keep the status */ }
    let errorCode = `HTTP_${response.status}`;
    let detail = text.slice(0, 500);
    try {
      const parsed = JSON.parse(text) as { error_code?: string; message?: string };
      if (parsed.error_code) errorCode = parsed.error_code;
      if (parsed.message) detail = parsed.message;
    } catch { /* not JSON */ }
    let hint = "";
    if (response.status === 401 && this.#authSource !== null) {
      hint = `; the server rejected the credentials from ${this.#authSource}: check them`;
    } else if (response.status === 401 && !detail.includes("MLFLOW_TRACKING_")) {
      // (A proxy that holds the credentials, like the demo's, says which hint applies.)
      hint = "; set MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN";
    }
    if (response.status === 503 && endpoint.includes("mlflow-artifacts")) {
      hint = "; the server does not serve artifacts (started with --no-serve-artifacts?): " +
        "restart it with --serve-artifacts and --artifacts-destination";
    }
    return new MlflowRequestError(
      `Cannot ${action} at ${this.#base}: HTTP ${response.status} ${errorCode}: ${detail}${hint}`,
      { status: response.status, errorCode, endpoint },
    );
  }

  async #call<T>(
    method: "GET" | "POST",
    api: string,
    payload: Record<string, unknown>,
    action: string,
  ): Promise<T> {
    let path = `/api/2.0/mlflow/${api}`;
    let body: string | null = null;
    if (method === "GET") {
      const query = new URLSearchParams();
      for (const [k, v] of Object.entries(payload)) {
        if (v !== undefined && v !== null) query.set(k, String(v));
      }
      const q = query.toString();
      if (q !== "") path += `?${q}`;
    } else body = toJson(payload);
    const response = await this.#send(
      method,
      path,
      body,
      method === "POST" ? "application/json" : null,
      action,
    );
    const text = await response.text();
    return (text === "" ? {} : JSON.parse(text)) as T;
  }

  getExperimentByName(name: string): Promise<MlflowExperiment | null> {
    return this.#getExperiment(
      "experiments/get-by-name",
      { experiment_name: name },
      `get experiment "${name}"`,
    );
  }

  getExperiment(experimentId: string): Promise<MlflowExperiment | null> {
    return this.#getExperiment(
      "experiments/get",
      { experiment_id: experimentId },
      `get experiment ${experimentId}`,
    );
  }

  /** One experiment by id or name; null when the server says RESOURCE_DOES_NOT_EXIST. */
  async #getExperiment(
    endpoint: string,
    query: Record<string, string>,
    action: string,
  ): Promise<MlflowExperiment | null> {
    try {
      const { experiment } = await this.#call<{ experiment: Record<string, string> }>(
        "GET",
        endpoint,
        query,
        action,
      );
      return {
        experimentId: experiment.experiment_id,
        name: experiment.name,
        artifactLocation: experiment.artifact_location ?? "",
        lifecycleStage: experiment.lifecycle_stage ?? "active",
      };
    } catch (error) {
      if (error instanceof MlflowRequestError && error.errorCode === "RESOURCE_DOES_NOT_EXIST") {
        return null;
      }
      throw error;
    }
  }

  async createExperiment(name: string): Promise<string> {
    const { experiment_id } = await this.#call<{ experiment_id: string }>(
      "POST",
      "experiments/create",
      { name },
      `create experiment "${name}"`,
    );
    return experiment_id;
  }

  #info(raw: Record<string, unknown>): MlflowRunInfo {
    const info: MlflowRunInfo = {
      runId: String(raw.run_id ?? raw.run_uuid),
      experimentId: String(raw.experiment_id),
      runName: String(raw.run_name ?? ""),
      userId: String(raw.user_id ?? ""),
      status: String(raw.status ?? "RUNNING") as MlflowRunStatus,
      startTime: Number(raw.start_time ?? 0),
      endTime: raw.end_time === undefined || raw.end_time === null ? null : Number(raw.end_time),
      artifactUri: String(raw.artifact_uri ?? ""),
      lifecycleStage: String(raw.lifecycle_stage ?? "active"),
    };
    if (info.artifactUri !== "") this.#artifactUris.set(info.runId, info.artifactUri);
    return info;
  }

  #run(raw: RawRun): MlflowRun {
    const pairs = (list?: { key: string; value: string }[]) =>
      Object.fromEntries((list ?? []).map((p) => [p.key, p.value]));
    const metrics: Record<string, number> = {};
    for (const m of raw.data?.metrics ?? []) metrics[m.key] = toNumber(m.value);
    return {
      info: this.#info(raw.info),
      params: pairs(raw.data?.params),
      tags: pairs(raw.data?.tags),
      metrics,
    };
  }

  async createRun(options: CreateRunOptions): Promise<MlflowRunInfo> {
    const tags = { "mlflow.runName": options.runName, ...options.tags };
    const { run } = await this.#call<{ run: RawRun }>("POST", "runs/create", {
      experiment_id: options.experimentId,
      user_id: options.userId,
      run_name: options.runName,
      start_time: options.startTime,
      tags: Object.entries(tags).map(([key, value]) => ({ key, value })),
    }, `create run "${options.runName}"`);
    return this.#info(run.info);
  }

  async updateRun(
    runId: string,
    update: { status: MlflowRunStatus; endTime?: number },
  ): Promise<void> {
    await this.#call("POST", "runs/update", {
      run_id: runId,
      run_uuid: runId,
      status: update.status,
      end_time: update.endTime,
    }, `update run ${runId}`);
  }

  async getRun(runId: string): Promise<MlflowRun> {
    const { run } = await this.#call<{ run: RawRun }>(
      "GET",
      "runs/get",
      { run_id: runId },
      `get run ${runId}`,
    );
    return this.#run(run);
  }

  async searchRuns(experimentIds: readonly string[]): Promise<MlflowRun[]> {
    const runs: MlflowRun[] = [];
    let pageToken: string | undefined;
    do {
      const page = await this.#call<{ runs?: RawRun[]; next_page_token?: string }>(
        "POST",
        "runs/search",
        {
          experiment_ids: experimentIds,
          run_view_type: "ACTIVE_ONLY",
          max_results: 1000,
          order_by: ["attributes.start_time DESC"],
          page_token: pageToken,
        },
        `search runs of experiments ${experimentIds.join(", ")}`,
      );
      for (const r of page.runs ?? []) runs.push(this.#run(r));
      pageToken = page.next_page_token || undefined;
    } while (pageToken !== undefined);
    return runs;
  }

  async logBatch(runId: string, batch: MlflowBatch): Promise<void> {
    for (const part of splitLogBatch(batch)) {
      await this.#call("POST", "runs/log-batch", {
        run_id: runId,
        metrics: (part.metrics ?? []).map((m) => ({
          key: m.key,
          value: m.value,
          timestamp: Math.trunc(m.timestamp),
          step: Math.trunc(m.step),
        })),
        params: Object.entries(part.params ?? {}).map(([key, value]) => ({ key, value })),
        tags: Object.entries(part.tags ?? {}).map(([key, value]) => ({ key, value })),
      }, `log a batch to run ${runId}`);
    }
  }

  async getMetricHistory(runId: string, key: string): Promise<MlflowMetric[]> {
    const out: MlflowMetric[] = [];
    let pageToken: string | undefined;
    do {
      const page = await this.#call<{
        metrics?: { key: string; value: unknown; timestamp: unknown; step?: unknown }[];
        next_page_token?: string;
      }>("GET", "metrics/get-history", {
        run_id: runId,
        metric_key: key,
        max_results: 25000,
        page_token: pageToken,
      }, `get the history of metric "${key}" of run ${runId}`);
      for (const m of page.metrics ?? []) {
        out.push({
          key: m.key,
          value: toNumber(m.value),
          timestamp: Number(m.timestamp),
          step: Number(m.step ?? 0),
        });
      }
      pageToken = page.next_page_token || undefined;
    } while (pageToken !== undefined);
    return out;
  }

  /** The proxy path (`<exp>/<run>/artifacts`) of a run whose artifacts the server serves. */
  async #proxyRoot(runId: string, action: string): Promise<string> {
    let uri = this.#artifactUris.get(runId);
    if (uri === undefined) uri = (await this.getRun(runId)).info.artifactUri;
    const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/?(.*)$/.exec(uri);
    if (m === null) {
      throw new MlflowRequestError(
        `Cannot ${action}: run ${runId} stores artifacts at "${uri}", which this client cannot ` +
          `write; start the server with --serve-artifacts (the default) and --artifacts-destination ` +
          `so runs get an mlflow-artifacts:/ URI`,
        {
          status: 0,
          errorCode: "UNSUPPORTED_ARTIFACT_URI",
          endpoint: "PUT /api/2.0/mlflow-artifacts/artifacts",
        },
      );
    }
    return m[1].replace(/\/+$/, "");
  }

  #encodePath(path: string): string {
    const clean = path.replaceAll("\\", "/").replace(/^\/+|\/+$/g, "");
    if (clean.split("/").some((s) => s === ".." || s === "." || s === "")) {
      throw new TypeError(
        `Cannot use artifact path "${path}": empty, "." and ".." segments are not allowed`,
      );
    }
    return clean.split("/").map(encodeURIComponent).join("/");
  }

  async uploadArtifact(runId: string, path: string, bytes: Uint8Array): Promise<void> {
    const action = `upload artifact "${path}" of run ${runId}`;
    const root = await this.#proxyRoot(runId, action);
    await this.#send(
      "PUT",
      `/api/2.0/mlflow-artifacts/artifacts/${root}/${this.#encodePath(path)}`,
      bytes as Uint8Array<ArrayBuffer>,
      "application/octet-stream",
      action,
    ).then((r) => r.body?.cancel());
  }

  async listArtifacts(runId: string, path = ""): Promise<MlflowArtifact[]> {
    const { files } = await this.#call<
      { files?: { path: string; is_dir: boolean; file_size?: unknown }[] }
    >(
      "GET",
      "artifacts/list",
      { run_id: runId, path: path === "" ? undefined : path },
      `list artifacts "${path}" of run ${runId}`,
    );
    return (files ?? []).map((f) => ({
      path: f.path,
      isDir: f.is_dir,
      fileSize: f.file_size === undefined || f.file_size === null ? null : Number(f.file_size),
    }));
  }

  async downloadArtifact(runId: string, path: string): Promise<Uint8Array> {
    const action = `download artifact "${path}" of run ${runId}`;
    const root = await this.#proxyRoot(runId, action);
    const response = await this.#send(
      "GET",
      `/api/2.0/mlflow-artifacts/artifacts/${root}/${this.#encodePath(path)}`,
      null,
      null,
      action,
    );
    return new Uint8Array(await response.arrayBuffer());
  }

  async createRegisteredModel(name: string): Promise<void> {
    try {
      await this.#call(
        "POST",
        "registered-models/create",
        { name },
        `create registered model "${name}"`,
      );
    } catch (error) {
      if (error instanceof MlflowRequestError && error.errorCode === "RESOURCE_ALREADY_EXISTS") {
        return;
      }
      throw error;
    }
  }

  async createModelVersion(
    name: string,
    source: string,
    runId: string,
  ): Promise<MlflowModelVersion> {
    await this.createRegisteredModel(name);
    const { model_version } = await this.#call<{ model_version: Record<string, string> }>(
      "POST",
      "model-versions/create",
      { name, source, run_id: runId },
      `create a version of model "${name}"`,
    );
    return {
      name,
      version: String(model_version.version),
      source: model_version.source,
      runId: model_version.run_id,
    };
  }

  async setRegisteredModelAlias(name: string, alias: string, version: string): Promise<void> {
    await this.#call(
      "POST",
      "registered-models/alias",
      { name, alias, version },
      `set alias "${alias}" of model "${name}"`,
    );
  }

  async getModelVersionByAlias(name: string, alias: string): Promise<MlflowModelVersion | null> {
    try {
      const { model_version } = await this.#call<{ model_version: Record<string, string> }>(
        "GET",
        "registered-models/alias",
        { name, alias },
        `get alias "${alias}" of model "${name}"`,
      );
      return {
        name,
        version: String(model_version.version),
        source: model_version.source,
        runId: model_version.run_id,
      };
    } catch (error) {
      // A missing model is RESOURCE_DOES_NOT_EXIST; a missing alias is (MLflow 3.x)
      // INVALID_PARAMETER_VALUE "Registered model alias <a> not found".
      if (
        error instanceof MlflowRequestError &&
        (error.errorCode === "RESOURCE_DOES_NOT_EXIST" ||
          (error.status === 400 && /alias .* not found/i.test(error.message)))
      ) {
        return null;
      }
      throw error;
    }
  }
}
