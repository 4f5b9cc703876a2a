/**
 * `RestStore`: the endpoints of MLflow's REST API (`/api/2.0/mlflow/...`) that the toolkit
 * uses, on top of {@link RestTransport} (credentials, retries, timeouts, error mapping,
 * MLflow's JSON): experiments, runs, log-batch split to the server's limits, metric
 * histories, artifacts through the server's `mlflow-artifacts` proxy, and the registry.
 *
 * @module
 */
import {
  datasetToJson,
  experimentFromJson,
  loggedModelFromJson,
  modelVersionFromJson,
  type RawLoggedModel,
  type RawRun,
  runDataFromJson,
  runInfoFromJson,
} from "./_rest_json.ts";
import { splitLogBatch } from "./log_batch.ts";
import { MlflowRequestError } from "./mlflow_request_error.ts";
import { decodeMlflowNumber, RestTransport, type RestTransportOptions } from "./rest_transport.ts";
import type {
  CreateLoggedModelOptions,
  CreateRunOptions,
  MlflowArtifact,
  MlflowBatch,
  MlflowDatasetInput,
  MlflowExperiment,
  MlflowLoggedModel,
  MlflowMetric,
  MlflowModelOutput,
  MlflowModelVersion,
  MlflowRun,
  MlflowRunInfo,
  RunUpdate,
  SearchRunsOptions,
  TrackingStore,
} from "./tracking_store.ts";

/** Options of `RestStore`: the server and how to reach it. */
export type RestStoreOptions = RestTransportOptions;

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
  readonly #http: RestTransport;
  readonly #artifactUris = new Map<string, string>();
  readonly #modelArtifactUris = new Map<string, string>();

  /** A client for the server at `options.uri`; throws RangeError for any other URI form. */
  constructor(options: RestStoreOptions) {
    this.#http = new RestTransport(options);
    this.location = this.#http.baseUrl;
  }

  #call<T>(
    method: "GET" | "POST" | "PATCH",
    api: string,
    payload: Record<string, unknown>,
    action: string,
  ): Promise<T> {
    return this.#http.callJson<T>(method, api, payload, action);
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
      return experimentFromJson(experiment);
    } catch (error) {
      if (error instanceof MlflowRequestError && error.errorCode === "RESOURCE_DOES_NOT_EXIST") {
        return null;
      }
      throw error;
    }
  }

  async createExperiment(
    name: string,
    tags: Readonly<Record<string, string>> = {},
  ): Promise<string> {
    const { experiment_id } = await this.#call<{ experiment_id: string }>(
      "POST",
      "experiments/create",
      { name, tags: keyValues(tags) },
      `create experiment "${name}"`,
    );
    return experiment_id;
  }

  async deleteExperiment(experimentId: string): Promise<void> {
    await this.#call(
      "POST",
      "experiments/delete",
      { experiment_id: experimentId },
      `delete experiment ${experimentId}`,
    );
  }

  /** A run's info from the server's JSON; remembers where the run keeps its artifacts. */
  #info(raw: Record<string, unknown>): MlflowRunInfo {
    const info = runInfoFromJson(raw);
    if (info.artifactUri !== "") this.#artifactUris.set(info.runId, info.artifactUri);
    return info;
  }

  #run(raw: RawRun): MlflowRun {
    return { ...runDataFromJson(raw), info: this.#info(raw.info) };
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

  async updateRun(runId: string, update: RunUpdate): Promise<void> {
    // MLflow's runs/update changes only the fields sent, name and its tag in one transaction.
    await this.#call("POST", "runs/update", {
      run_id: runId,
      run_uuid: runId,
      status: update.status,
      end_time: update.endTime,
      run_name: update.runName,
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

  async searchRuns(
    experimentIds: readonly string[],
    options: SearchRunsOptions = {},
  ): Promise<MlflowRun[]> {
    const prefix = options.runNamePrefix ?? "";
    const clauses = Object.entries(options.tags ?? {}).map(([k, v]) => tagClause(k, v));
    // The server narrows by LIKE only when the prefix holds no quote, backslash or %, whose
    // meaning in a filter string or a LIKE pattern differs between backends ("_" matches any
    // one character: a superset, filtered exactly below).
    if (prefix !== "" && /^[\w.\- :]+$/.test(prefix)) {
      clauses.push(`attributes.run_name LIKE '${prefix}%'`);
    }
    const runs: MlflowRun[] = [];
    let pageToken: string | undefined;
    do {
      const page = await this.#call<{ runs?: RawRun[]; next_page_token?: string }>(
        "POST",
        "runs/search",
        {
          experiment_ids: experimentIds,
          filter: clauses.length === 0 ? undefined : clauses.join(" AND "),
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
    return prefix === "" ? runs : runs.filter((r) => r.info.runName.startsWith(prefix));
  }

  async deleteRun(runId: string): Promise<void> {
    await this.#call("POST", "runs/delete", { run_id: runId }, `delete run ${runId}`);
  }

  async logBatch(runId: string, batch: MlflowBatch): Promise<void> {
    for (const part of splitLogBatch(batch)) {
      await this.#call("POST", "runs/log-batch", {
        run_id: runId,
        metrics: (part.metrics ?? []).map((m) => metricJson(m)),
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
          value: decodeMlflowNumber(m.value),
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
    return proxyPath(uri, action, `run ${runId}`);
  }

  /** Uploads `bytes` through the server's artifact proxy to `<root>/<path>`. */
  async #putArtifact(root: string, path: string, bytes: Uint8Array, action: string) {
    await this.#http.send(
      "PUT",
      `/api/2.0/mlflow-artifacts/artifacts/${root}/${this.#encodePath(path)}`,
      bytes as Uint8Array<ArrayBuffer>,
      "application/octet-stream",
      action,
    ).then((r) => r.body?.cancel());
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
    await this.#putArtifact(await this.#proxyRoot(runId, action), path, bytes, action);
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
    const response = await this.#http.send(
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
    runId: string | null,
    options: { modelId?: string } = {},
  ): Promise<MlflowModelVersion> {
    await this.createRegisteredModel(name);
    const { model_version } = await this.#call<{ model_version: Record<string, string> }>(
      "POST",
      "model-versions/create",
      {
        name,
        source,
        run_id: runId ?? undefined,
        model_id: options.modelId ?? /^models:\/(m-[0-9a-f]{32})\/?$/.exec(source)?.[1],
      },
      `create a version of model "${name}"`,
    );
    return modelVersionFromJson(name, model_version);
  }

  async logInputs(runId: string, datasets: readonly MlflowDatasetInput[]): Promise<void> {
    await this.#call("POST", "runs/log-inputs", {
      run_id: runId,
      datasets: datasets.map((d) => ({
        tags: keyValues(d.tags),
        dataset: datasetToJson(d.dataset),
      })),
    }, `log ${datasets.length} data set inputs to run ${runId}`);
  }

  async logOutputs(runId: string, outputs: readonly MlflowModelOutput[]): Promise<void> {
    // The server refuses a model already linked (a unique constraint): send only new ones.
    const linked = new Set((await this.getRun(runId)).outputs?.map((o) => o.modelId));
    const fresh = outputs.filter((o) => !linked.has(o.modelId));
    if (fresh.length === 0) return;
    try {
      await this.#call("POST", "runs/outputs", {
        run_id: runId,
        models: fresh.map((o) => ({ model_id: o.modelId, step: Math.trunc(o.step) })),
      }, `log ${fresh.length} model outputs of run ${runId}`);
    } catch (error) {
      // Another process (a second sweep shard) may have linked them between the check and
      // the call: the constraint refuses ours, and the outputs are there all the same.
      const now = new Set((await this.getRun(runId)).outputs?.map((o) => o.modelId));
      if (!fresh.every((o) => now.has(o.modelId))) throw error;
    }
  }

  async createLoggedModel(options: CreateLoggedModelOptions): Promise<MlflowLoggedModel> {
    const params = keyValues(options.params ?? {});
    const action = `create logged model "${options.name}"`;
    const { model } = await this.#call<{ model: RawLoggedModel }>("POST", "logged-models", {
      experiment_id: options.experimentId,
      name: options.name,
      model_type: options.modelType,
      source_run_id: options.sourceRunId,
      params: params.slice(0, 100),
      tags: keyValues(options.tags ?? {}),
    }, action);
    const modelId = loggedModelFromJson(model).modelId;
    // The server takes at most 100 params per call, like MLflow's client sends them.
    for (let i = 100; i < params.length; i += 100) {
      await this.#call("POST", `${modelPath(modelId)}/params`, {
        model_id: modelId,
        params: params.slice(i, i + 100),
      }, `log params of logged model ${modelId}`);
    }
    return params.length > 100 ? await this.getLoggedModel(modelId) : loggedModelFromJson(model);
  }

  async getLoggedModel(modelId: string): Promise<MlflowLoggedModel> {
    const { model } = await this.#call<{ model: RawLoggedModel }>(
      "GET",
      modelPath(modelId),
      {},
      `get logged model ${modelId}`,
    );
    return loggedModelFromJson(model);
  }

  async searchLoggedModels(
    experimentIds: readonly string[],
    filter: { sourceRunId?: string } = {},
  ): Promise<MlflowLoggedModel[]> {
    const out: MlflowLoggedModel[] = [];
    let pageToken: string | undefined;
    if (filter.sourceRunId !== undefined && !/^[\w-]+$/.test(filter.sourceRunId)) {
      throw new TypeError(
        `Cannot search logged models of run "${filter.sourceRunId}": not a run id`,
      );
    }
    do {
      const page = await this.#call<{ models?: RawLoggedModel[]; next_page_token?: string }>(
        "POST",
        "logged-models/search",
        {
          experiment_ids: experimentIds,
          filter: filter.sourceRunId === undefined
            ? undefined
            : `source_run_id = '${filter.sourceRunId}'`,
          max_results: 100,
          order_by: [{ field_name: "creation_timestamp", ascending: false }],
          page_token: pageToken,
        },
        `search logged models of experiments ${experimentIds.join(", ")}`,
      );
      for (const m of page.models ?? []) out.push(loggedModelFromJson(m));
      pageToken = page.next_page_token || undefined;
    } while (pageToken !== undefined);
    return out;
  }

  async uploadLoggedModelArtifact(modelId: string, path: string, bytes: Uint8Array): Promise<void> {
    const action = `upload artifact "${path}" of logged model ${modelId}`;
    let uri = this.#modelArtifactUris.get(modelId);
    if (uri === undefined) {
      uri = (await this.getLoggedModel(modelId)).artifactLocation;
      this.#modelArtifactUris.set(modelId, uri);
    }
    await this.#putArtifact(proxyPath(uri, action, `logged model ${modelId}`), path, bytes, action);
  }

  async logLoggedModelMetrics(
    modelId: string,
    runId: string,
    metrics: readonly MlflowMetric[],
  ): Promise<void> {
    for (const part of splitLogBatch({ metrics })) {
      await this.#call("POST", "runs/log-batch", {
        run_id: runId,
        metrics: (part.metrics ?? []).map((m) =>
          metricJson(m, { model_id: modelId, run_id: runId })
        ),
      }, `log metrics of logged model ${modelId}`);
    }
  }

  async finalizeLoggedModel(modelId: string, status: "READY" | "FAILED"): Promise<void> {
    await this.#call("PATCH", modelPath(modelId), {
      model_id: modelId,
      status: status === "READY" ? "LOGGED_MODEL_READY" : "LOGGED_MODEL_UPLOAD_FAILED",
    }, `finalize logged model ${modelId}`);
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
      return modelVersionFromJson(name, model_version);
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

  async setModelVersionTag(
    name: string,
    version: string,
    key: string,
    value: string,
  ): Promise<void> {
    await this.#call(
      "POST",
      "model-versions/set-tag",
      { name, version, key, value },
      `set tag "${key}" of model "${name}" version ${version}`,
    );
  }

  async updateModelVersionDescription(
    name: string,
    version: string,
    description: string,
  ): Promise<void> {
    await this.#call(
      "PATCH",
      "model-versions/update",
      { name, version, description },
      `update the description of model "${name}" version ${version}`,
    );
  }
}

/**
 * The proxy path of an `mlflow-artifacts:` artifact location (`<exp>/<run>/artifacts`,
 * `<exp>/models/<id>/artifacts`); any other location cannot be written through the server.
 */
function proxyPath(uri: string, action: string, owner: string): string {
  const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/?(.*)$/.exec(uri);
  if (m === null) {
    throw new MlflowRequestError(
      `Cannot ${action}: ${owner} stores artifacts at "${uri}", which this client cannot ` +
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

/** A metric in log-batch's JSON (integral timestamp and step), with `extra` fields. */
function metricJson(m: MlflowMetric, extra: Record<string, string> = {}): Record<string, unknown> {
  return {
    key: m.key,
    value: m.value,
    timestamp: Math.trunc(m.timestamp),
    step: Math.trunc(m.step),
    ...extra,
  };
}

/** A string map as the server's `[{key, value}]` list. */
function keyValues(map: Readonly<Record<string, string>>): { key: string; value: string }[] {
  return Object.entries(map).map(([key, value]) => ({ key, value }));
}

/** `logged-models/<id>`, for a well-formed id only (it becomes part of the URL path). */
function modelPath(modelId: string): string {
  if (!/^m-[0-9a-f]{32}$/.test(modelId)) {
    throw new TypeError(
      `Cannot use logged model id "${modelId}": expected m- and 32 hex digits`,
    );
  }
  return `logged-models/${modelId}`;
}

/** A search-runs clause `tags.\`key\` = 'value'`, for keys and values that need no escaping. */
function tagClause(key: string, value: string): string {
  if (!/^[\w.\-/ :]+$/.test(key) || /['"\\`]/.test(value)) {
    throw new TypeError(
      `Cannot search runs by tag "${key}" = ${JSON.stringify(value)}: keys must be MLflow keys ` +
        "and values must not contain quotes, backticks or backslashes",
    );
  }
  return `tags.\`${key}\` = '${value}'`;
}
