/**
 * The model registry part of `RestStore`: registered models, model versions, aliases,
 * version tags and descriptions, through the server's `registered-models/*` and
 * `model-versions/*` endpoints.
 *
 * @module
 */
import { modelVersionFromJson } from "./_rest_json.ts";
import { MlflowRequestError } from "./mlflow_request_error.ts";
import type { RestTransport } from "./rest_transport.ts";
import type { MlflowModelVersion } from "./tracking_store.ts";

/** The registry endpoints of one tracking server. */
export class RestRegistry {
  readonly #http: RestTransport;

  /** The registry of the server that `http` reaches. */
  constructor(http: RestTransport) {
    this.#http = http;
  }

  async createRegisteredModel(name: string): Promise<void> {
    try {
      await this.#http.callJson(
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
    const { model_version } = await this.#http.callJson<
      { model_version: Record<string, string> }
    >(
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

  async setRegisteredModelAlias(name: string, alias: string, version: string): Promise<void> {
    await this.#http.callJson(
      "POST",
      "registered-models/alias",
      { name, alias, version },
      `set alias "${alias}" of model "${name}"`,
    );
  }

  async getModelVersionByAlias(name: string, alias: string): Promise<MlflowModelVersion | null> {
    try {
      const { model_version } = await this.#http.callJson<
        { model_version: Record<string, string> }
      >(
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
    await this.#http.callJson(
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
    await this.#http.callJson(
      "PATCH",
      "model-versions/update",
      { name, version, description },
      `update the description of model "${name}" version ${version}`,
    );
  }
}
