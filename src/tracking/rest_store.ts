/**
 * `RestStore`: the endpoints of MLflow's REST API (`/api/2.0/mlflow/...`) that the toolkit
 * uses, on top of {@link RestTransport} (credentials, retries, timeouts, error mapping,
 * MLflow's JSON): experiments, runs, log-batch split to the server's limits, metric
 * histories and run artifacts here; artifacts go through the server's `mlflow-artifacts`
 * proxy (`_rest_artifacts.ts`), the registry is `_rest_registry.ts`, and MLflow 3's run
 * inputs, outputs and logged models are `_rest_models.ts`.
 *
 * @module
 */
import { getArtifact, proxyPath, putArtifact } from "./_rest_artifacts.ts";
import {
  experimentFromJson,
  keyValues,
  metricJson,
  type RawRun,
  runDataFromJson,
  runInfoFromJson,
} from "./_rest_json.ts";
import { RestModels } from "./_rest_models.ts";
import { RestRegistry } from "./_rest_registry.ts";
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
  readonly #registry: RestRegistry;
  readonly #models: RestModels;

  /** A client for the server at `options.uri`; throws RangeError for any other URI form. */
  constructor(options: RestStoreOptions) {
    this.#http = new RestTransport(options);
    this.location = this.#http.baseUrl;
    this.#registry = new RestRegistry(this.#http);
    this.#models = new RestModels(this.#http, { getRun: (id) => this.getRun(id) });
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
      const { experiment } = await this.#http.callJson<{ experiment: Record<string, string> }>(
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
    const { experiment_id } = await this.#http.callJson<{ experiment_id: string }>(
      "POST",
      "experiments/create",
      { name, tags: keyValues(tags) },
      `create experiment "${name}"`,
    );
    return experiment_id;
  }

  async deleteExperiment(experimentId: string): Promise<void> {
    await this.#http.callJson(
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
    const { run } = await this.#http.callJson<{ run: RawRun }>("POST", "runs/create", {
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
    await this.#http.callJson("POST", "runs/update", {
      run_id: runId,
      run_uuid: runId,
      status: update.status,
      end_time: update.endTime,
      run_name: update.runName,
    }, `update run ${runId}`);
  }

  async getRun(runId: string): Promise<MlflowRun> {
    const { run } = await this.#http.callJson<{ run: RawRun }>(
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
      const page = await this.#http.callJson<{ runs?: RawRun[]; next_page_token?: string }>(
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
    await this.#http.callJson("POST", "runs/delete", { run_id: runId }, `delete run ${runId}`);
  }

  async logBatch(runId: string, batch: MlflowBatch): Promise<void> {
    for (const part of splitLogBatch(batch)) {
      await this.#http.callJson("POST", "runs/log-batch", {
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
      const page = await this.#http.callJson<{
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

  async uploadArtifact(runId: string, path: string, bytes: Uint8Array): Promise<void> {
    const action = `upload artifact "${path}" of run ${runId}`;
    await putArtifact(this.#http, await this.#proxyRoot(runId, action), path, bytes, action);
  }

  async listArtifacts(runId: string, path = ""): Promise<MlflowArtifact[]> {
    const { files } = await this.#http.callJson<
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
    return await getArtifact(this.#http, await this.#proxyRoot(runId, action), path, action);
  }

  createRegisteredModel(name: string): Promise<void> {
    return this.#registry.createRegisteredModel(name);
  }

  createModelVersion(
    name: string,
    source: string,
    runId: string | null,
    options?: { modelId?: string },
  ): Promise<MlflowModelVersion> {
    return this.#registry.createModelVersion(name, source, runId, options);
  }

  setRegisteredModelAlias(name: string, alias: string, version: string): Promise<void> {
    return this.#registry.setRegisteredModelAlias(name, alias, version);
  }

  getModelVersionByAlias(name: string, alias: string): Promise<MlflowModelVersion | null> {
    return this.#registry.getModelVersionByAlias(name, alias);
  }

  setModelVersionTag(name: string, version: string, key: string, value: string): Promise<void> {
    return this.#registry.setModelVersionTag(name, version, key, value);
  }

  updateModelVersionDescription(
    name: string,
    version: string,
    description: string,
  ): Promise<void> {
    return this.#registry.updateModelVersionDescription(name, version, description);
  }

  logInputs(runId: string, datasets: readonly MlflowDatasetInput[]): Promise<void> {
    return this.#models.logInputs(runId, datasets);
  }

  logOutputs(runId: string, outputs: readonly MlflowModelOutput[]): Promise<void> {
    return this.#models.logOutputs(runId, outputs);
  }

  createLoggedModel(options: CreateLoggedModelOptions): Promise<MlflowLoggedModel> {
    return this.#models.createLoggedModel(options);
  }

  getLoggedModel(modelId: string): Promise<MlflowLoggedModel> {
    return this.#models.getLoggedModel(modelId);
  }

  searchLoggedModels(
    experimentIds: readonly string[],
    filter?: { sourceRunId?: string },
  ): Promise<MlflowLoggedModel[]> {
    return this.#models.searchLoggedModels(experimentIds, filter);
  }

  uploadLoggedModelArtifact(modelId: string, path: string, bytes: Uint8Array): Promise<void> {
    return this.#models.uploadArtifact(modelId, path, bytes);
  }

  logLoggedModelMetrics(
    modelId: string,
    runId: string,
    metrics: readonly MlflowMetric[],
  ): Promise<void> {
    return this.#models.logMetrics(modelId, runId, metrics);
  }

  finalizeLoggedModel(modelId: string, status: "READY" | "FAILED"): Promise<void> {
    return this.#models.finalize(modelId, status);
  }
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
