/**
 * MLflow 3's run inputs, run outputs and logged models on a tracking server: data sets a
 * run used (`runs/log-inputs`), models it produced (`runs/outputs`), and the
 * `logged-models/*` endpoints with their params, metrics, artifacts and status.
 *
 * @module
 */
import { proxyPath, putArtifact } from "./_rest_artifacts.ts";
import {
  datasetToJson,
  keyValues,
  loggedModelFromJson,
  metricJson,
  type RawLoggedModel,
} from "./_rest_json.ts";
import { splitLogBatch } from "./log_batch.ts";
import type { RestTransport } from "./rest_transport.ts";
import type {
  CreateLoggedModelOptions,
  MlflowDatasetInput,
  MlflowLoggedModel,
  MlflowMetric,
  MlflowModelOutput,
  MlflowRun,
} from "./tracking_store.ts";

/** Run inputs and outputs, logged models of one tracking server. */
export class RestModels {
  readonly #http: RestTransport;
  readonly #runs: { getRun(runId: string): Promise<MlflowRun> };
  readonly #artifactUris = new Map<string, string>();

  /** `runs` reads a run's outputs (the store's `getRun`). */
  constructor(http: RestTransport, runs: { getRun(runId: string): Promise<MlflowRun> }) {
    this.#http = http;
    this.#runs = runs;
  }

  async logInputs(runId: string, datasets: readonly MlflowDatasetInput[]): Promise<void> {
    await this.#http.callJson("POST", "runs/log-inputs", {
      run_id: runId,
      datasets: datasets.map((d) => ({
        tags: keyValues(d.tags),
        dataset: datasetToJson(d.dataset),
      })),
    }, `log ${datasets.length} data set inputs to run ${runId}`);
  }

  async logOutputs(runId: string, outputs: readonly MlflowModelOutput[]): Promise<void> {
    // The server refuses a model already linked (a unique constraint): send only new ones.
    const linked = await this.#linkedModels(runId);
    const fresh = outputs.filter((o) => !linked.has(o.modelId));
    if (fresh.length === 0) return;
    try {
      await this.#http.callJson("POST", "runs/outputs", {
        run_id: runId,
        models: fresh.map((o) => ({ model_id: o.modelId, step: Math.trunc(o.step) })),
      }, `log ${fresh.length} model outputs of run ${runId}`);
    } catch (error) {
      // Another process (a second sweep shard) may have linked them between the check and
      // the call: the constraint refuses ours, and the outputs are there all the same.
      const now = await this.#linkedModels(runId);
      if (!fresh.every((o) => now.has(o.modelId))) throw error;
    }
  }

  /** The ids of the models run `runId` has as outputs. */
  async #linkedModels(runId: string): Promise<Set<string>> {
    return new Set((await this.#runs.getRun(runId)).outputs?.map((o) => o.modelId));
  }

  async createLoggedModel(options: CreateLoggedModelOptions): Promise<MlflowLoggedModel> {
    const params = keyValues(options.params ?? {});
    const action = `create logged model "${options.name}"`;
    const { model } = await this.#http.callJson<{ model: RawLoggedModel }>(
      "POST",
      "logged-models",
      {
        experiment_id: options.experimentId,
        name: options.name,
        model_type: options.modelType,
        source_run_id: options.sourceRunId,
        params: params.slice(0, 100),
        tags: keyValues(options.tags ?? {}),
      },
      action,
    );
    const created = loggedModelFromJson(model);
    const modelId = created.modelId;
    // The server takes at most 100 params per call, like MLflow's client sends them.
    for (let i = 100; i < params.length; i += 100) {
      await this.#http.callJson("POST", `${modelPath(modelId)}/params`, {
        model_id: modelId,
        params: params.slice(i, i + 100),
      }, `log params of logged model ${modelId}`);
    }
    return params.length > 100 ? await this.getLoggedModel(modelId) : created;
  }

  async getLoggedModel(modelId: string): Promise<MlflowLoggedModel> {
    const { model } = await this.#http.callJson<{ model: RawLoggedModel }>(
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
      const page = await this.#http.callJson<
        { models?: RawLoggedModel[]; next_page_token?: string }
      >(
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

  async uploadArtifact(modelId: string, path: string, bytes: Uint8Array): Promise<void> {
    const action = `upload artifact "${path}" of logged model ${modelId}`;
    let uri = this.#artifactUris.get(modelId);
    if (uri === undefined) {
      uri = (await this.getLoggedModel(modelId)).artifactLocation;
      this.#artifactUris.set(modelId, uri);
    }
    const root = proxyPath(uri, action, `logged model ${modelId}`);
    await putArtifact(this.#http, root, path, bytes, action);
  }

  async logMetrics(
    modelId: string,
    runId: string,
    metrics: readonly MlflowMetric[],
  ): Promise<void> {
    for (const part of splitLogBatch({ metrics })) {
      await this.#http.callJson("POST", "runs/log-batch", {
        run_id: runId,
        metrics: (part.metrics ?? []).map((m) =>
          metricJson(m, { model_id: modelId, run_id: runId })
        ),
      }, `log metrics of logged model ${modelId}`);
    }
  }

  async finalize(modelId: string, status: "READY" | "FAILED"): Promise<void> {
    await this.#http.callJson("PATCH", modelPath(modelId), {
      model_id: modelId,
      status: status === "READY" ? "LOGGED_MODEL_READY" : "LOGGED_MODEL_UPLOAD_FAILED",
    }, `finalize logged model ${modelId}`);
  }
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
