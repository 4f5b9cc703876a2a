import type {
  ReviewArtifact,
  ReviewMetricPoint,
  ReviewModelVersion,
  ReviewRun,
  ReviewStore,
} from "./review_store.ts";

/** An MLflow REST call that failed, with what the server said. */
export class ReviewRequestError extends Error {
  /** HTTP status (0 when the server could not be reached). */
  readonly status: number;
  /** MLflow `error_code`, e.g. RESOURCE_DOES_NOT_EXIST. */
  readonly errorCode: string;
  /** The endpoint path that failed. */
  readonly endpoint: string;

  /** Builds the error; the message follows "Cannot <action>: ...". */
  constructor(
    message: string,
    init: { status: number; errorCode: string; endpoint: string; cause?: unknown },
  ) {
    super(message, { cause: init.cause });
    this.name = "ReviewRequestError";
    this.status = init.status;
    this.errorCode = init.errorCode;
    this.endpoint = init.endpoint;
  }
}

/** Options of {@link RestReviewStore}. */
export interface RestReviewStoreOptions {
  /** `fetch` to use (injected so the browser can pass its own). */
  fetch?: typeof fetch;
  /** Extra headers, e.g. `Authorization` built from MLFLOW_TRACKING_* by the caller. */
  headers?: Record<string, string>;
}

interface RestRun {
  info: {
    run_id: string;
    run_name?: string;
    experiment_id: string;
    status: string;
    start_time?: number | string;
    end_time?: number | string;
    artifact_uri: string;
  };
  data?: {
    metrics?: { key: string; value: number | string }[];
    params?: { key: string; value: string }[];
    tags?: { key: string; value: string }[];
  };
}

const toNumber = (v: number | string): number =>
  typeof v === "number"
    ? v
    : v === "NaN"
    ? NaN
    : v === "Infinity"
    ? Infinity
    : v === "-Infinity"
    ? -Infinity
    : Number(v);

const jsonNumber = (v: number): number | string =>
  Number.isNaN(v) ? "NaN" : v === Infinity ? "Infinity" : v === -Infinity ? "-Infinity" : v;

function fromRest(r: RestRun): ReviewRun {
  const pairs = <T>(list: { key: string; value: T }[] | undefined) =>
    Object.fromEntries((list ?? []).map((x) => [x.key, x.value]));
  const tags = pairs(r.data?.tags);
  return {
    runId: r.info.run_id,
    runName: r.info.run_name ?? tags["mlflow.runName"] ?? "",
    experimentId: r.info.experiment_id,
    status: r.info.status,
    startTime: r.info.start_time === undefined ? null : Number(r.info.start_time),
    endTime: r.info.end_time === undefined ? null : Number(r.info.end_time),
    artifactUri: r.info.artifact_uri,
    params: pairs(r.data?.params),
    tags,
    metrics: Object.fromEntries((r.data?.metrics ?? []).map((m) => [m.key, toNumber(m.value)])),
  };
}

/** {@link ReviewStore} over an MLflow tracking server's REST API and artifact proxy. */
export class RestReviewStore implements ReviewStore {
  /** The server URI. */
  readonly location: string;
  #fetch: typeof fetch;
  #headers: Record<string, string>;

  /** `uri`: the server, e.g. `http://127.0.0.1:5000`. */
  constructor(uri: string, options: RestReviewStoreOptions = {}) {
    this.location = uri.replace(/\/+$/, "");
    this.#fetch = options.fetch ?? fetch;
    this.#headers = options.headers ?? {};
  }

  async #request(
    method: string,
    endpoint: string,
    body?: unknown,
    raw?: Uint8Array,
  ): Promise<Response> {
    const url = `${this.location}/${endpoint}`;
    let res: Response;
    try {
      res = await this.#fetch(url, {
        method,
        headers: {
          ...this.#headers,
          ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
        },
        body: raw
          ? (raw as Uint8Array<ArrayBuffer>)
          : body !== undefined
          ? JSON.stringify(body)
          : undefined,
      });
    } catch (cause) {
      throw new ReviewRequestError(
        `Cannot reach MLflow at ${this.location} (${method} ${endpoint}): ${
          (cause as Error).message
        }; ` +
          "check --mlflow-tracking-uri and that the server is running",
        { status: 0, errorCode: "CONNECTION_ERROR", endpoint, cause },
      );
    }
    if (!res.ok) {
      const text = await res.text();
      let errorCode = "";
      let message = text.slice(0, 300);
      try {
        const parsed = JSON.parse(text);
        errorCode = parsed.error_code ?? "";
        message = parsed.message ?? message;
      } catch { /* not JSON */ }
      throw new ReviewRequestError(
        `Cannot ${method} ${endpoint} on ${this.location}: HTTP ${res.status} ${errorCode} ${message}`
          .trim(),
        { status: res.status, errorCode, endpoint },
      );
    }
    return res;
  }

  async #json<T>(method: string, endpoint: string, body?: unknown): Promise<T> {
    const res = await this.#request(method, `api/2.0/mlflow/${endpoint}`, body);
    return (await res.json()) as T;
  }

  async experimentId(name: string): Promise<string | null> {
    try {
      const r = await this.#json<
        { experiment: { experiment_id: string; lifecycle_stage: string } }
      >(
        "GET",
        `experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`,
      );
      return r.experiment.lifecycle_stage === "deleted" ? null : r.experiment.experiment_id;
    } catch (e) {
      if (e instanceof ReviewRequestError && e.status === 404) return null;
      throw e;
    }
  }

  async searchRuns(experimentId: string): Promise<ReviewRun[]> {
    const runs: ReviewRun[] = [];
    let pageToken: string | undefined;
    do {
      const r = await this.#json<{ runs?: RestRun[]; next_page_token?: string }>(
        "POST",
        "runs/search",
        {
          experiment_ids: [experimentId],
          max_results: 1000,
          run_view_type: "ACTIVE_ONLY",
          ...(pageToken ? { page_token: pageToken } : {}),
        },
      );
      runs.push(...(r.runs ?? []).map(fromRest));
      pageToken = r.next_page_token || undefined;
    } while (pageToken);
    return runs;
  }

  async getRun(runId: string): Promise<ReviewRun> {
    const r = await this.#json<{ run: RestRun }>(
      "GET",
      `runs/get?run_id=${encodeURIComponent(runId)}`,
    );
    return fromRest(r.run);
  }

  async metricHistory(runId: string, key: string): Promise<ReviewMetricPoint[]> {
    const out: ReviewMetricPoint[] = [];
    let pageToken: string | undefined;
    do {
      const q = `run_id=${encodeURIComponent(runId)}&metric_key=${encodeURIComponent(key)}` +
        `&max_results=25000${pageToken ? `&page_token=${encodeURIComponent(pageToken)}` : ""}`;
      const r = await this.#json<{
        metrics?: { value: number | string; step?: number | string; timestamp: number | string }[];
        next_page_token?: string;
      }>("GET", `metrics/get-history?${q}`);
      for (const m of r.metrics ?? []) {
        out.push({
          value: toNumber(m.value),
          step: Number(m.step ?? 0),
          timestamp: Number(m.timestamp),
        });
      }
      pageToken = r.next_page_token || undefined;
    } while (pageToken);
    return out;
  }

  async listArtifacts(runId: string, path: string): Promise<ReviewArtifact[]> {
    const r = await this.#json<{ files?: { path: string; is_dir: boolean }[] }>(
      "GET",
      `artifacts/list?run_id=${encodeURIComponent(runId)}&path=${encodeURIComponent(path)}`,
    );
    return (r.files ?? []).map((f) => ({ path: f.path, isDir: f.is_dir }));
  }

  /** Proxy path of an artifact when the run stores artifacts through the server. */
  async #proxyPath(runId: string, path: string): Promise<string | null> {
    const run = await this.getRun(runId);
    const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/(.*)$/.exec(run.artifactUri);
    if (!m) return null;
    const encoded = path.split("/").map(encodeURIComponent).join("/");
    return `api/2.0/mlflow-artifacts/artifacts/${m[1].replace(/\/+$/, "")}/${encoded}`;
  }

  async readArtifact(runId: string, path: string): Promise<Uint8Array> {
    const proxy = await this.#proxyPath(runId, path);
    const endpoint = proxy ??
      `get-artifact?run_id=${encodeURIComponent(runId)}&path=${encodeURIComponent(path)}`;
    const res = await this.#request("GET", endpoint);
    return new Uint8Array(await res.arrayBuffer());
  }

  async writeArtifact(runId: string, path: string, bytes: Uint8Array): Promise<void> {
    const proxy = await this.#proxyPath(runId, path);
    if (proxy === null) {
      const run = await this.getRun(runId);
      throw new ReviewRequestError(
        `Cannot upload artifact ${path}: run ${runId} stores artifacts at ${run.artifactUri}, ` +
          "not through the server's proxy (mlflow-artifacts:/); start the server with artifact serving",
        { status: 0, errorCode: "UNSUPPORTED_ARTIFACT_URI", endpoint: "mlflow-artifacts" },
      );
    }
    await this.#request("PUT", proxy, undefined, bytes);
  }

  async logMetrics(
    runId: string,
    metrics: Record<string, number>,
    step: number,
    timestamp: number,
  ): Promise<void> {
    const list = Object.entries(metrics).map(([key, value]) => ({
      key,
      value: jsonNumber(value),
      timestamp,
      step,
    }));
    for (let i = 0; i < list.length; i += 1000) {
      await this.#json("POST", "runs/log-batch", {
        run_id: runId,
        metrics: list.slice(i, i + 1000),
      });
    }
  }

  async setRunTag(runId: string, key: string, value: string): Promise<void> {
    await this.#json("POST", "runs/set-tag", { run_id: runId, key, value });
  }

  async modelVersionByAlias(model: string, alias: string): Promise<ReviewModelVersion | null> {
    try {
      const r = await this.#json<
        { model_version: { version: string; run_id?: string; source?: string } }
      >(
        "GET",
        `registered-models/alias?name=${encodeURIComponent(model)}&alias=${
          encodeURIComponent(alias)
        }`,
      );
      return {
        version: String(r.model_version.version),
        runId: r.model_version.run_id ?? "",
        source: r.model_version.source ?? "",
      };
    } catch (e) {
      if (
        e instanceof ReviewRequestError &&
        (e.status === 404 || e.errorCode === "RESOURCE_DOES_NOT_EXIST")
      ) {
        return null;
      }
      throw e;
    }
  }

  async createModelVersion(
    model: string,
    v: { source: string; runId: string; tags: Record<string, string>; description: string },
  ): Promise<string> {
    try {
      await this.#json("POST", "registered-models/create", { name: model });
    } catch (e) {
      if (!(e instanceof ReviewRequestError && e.errorCode === "RESOURCE_ALREADY_EXISTS")) throw e;
    }
    const r = await this.#json<{ model_version: { version: string } }>(
      "POST",
      "model-versions/create",
      {
        name: model,
        source: v.source,
        run_id: v.runId,
        description: v.description,
        tags: Object.entries(v.tags).map(([key, value]) => ({ key, value })),
      },
    );
    return String(r.model_version.version);
  }

  async setModelAlias(model: string, alias: string, version: string): Promise<void> {
    await this.#json("POST", "registered-models/alias", { name: model, alias, version });
  }
}
