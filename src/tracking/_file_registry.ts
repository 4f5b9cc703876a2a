/**
 * The model registry part of `FileStore`: `<mlruns>/models/<name>/` with its `meta.yaml`,
 * `aliases/<alias>`, `version-<n>/meta.yaml` and `version-<n>/tags/<key>`, in MLflow's own
 * layout, written through the store's YAML writer.
 *
 * @module
 */
import { readYamlFile, writeYamlFile } from "./_yaml.ts";
import type { FileSystemAdapter } from "./file_system.ts";
import {
  type MlflowLoggedModel,
  type MlflowModelVersion,
  validateMlflowKey,
} from "./tracking_store.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Registered models, versions, aliases and version tags under one `mlruns` folder. */
export class FileRegistry {
  readonly root: string;
  readonly #fs: FileSystemAdapter;
  readonly #clock: () => number;
  readonly #init: () => Promise<void>;
  readonly #models: { getLoggedModel(modelId: string): Promise<MlflowLoggedModel> };

  /**
   * `init` prepares the store (root and Default experiment) before the first access;
   * `models` finds the logged models that versions are registered from.
   */
  constructor(
    fs: FileSystemAdapter,
    root: string,
    clock: () => number,
    init: () => Promise<void>,
    models: { getLoggedModel(modelId: string): Promise<MlflowLoggedModel> },
  ) {
    this.#fs = fs;
    this.root = root;
    this.#clock = clock;
    this.#init = init;
    this.#models = models;
  }

  #modelDir(name: string): string {
    if (name === "" || name.includes("/") || name === "." || name === "..") {
      throw new TypeError(
        `Cannot use registered model name "${name}": it must be non-empty, without "/"`,
      );
    }
    return `${this.root}/models/${name}`;
  }

  async #writeModelMeta(name: string, created: number, updated: number): Promise<void> {
    const dir = this.#modelDir(name);
    const aliases: Record<string, string> = {};
    for (const e of (await this.#fs.readDir(`${dir}/aliases`)) ?? []) {
      aliases[e.name] = decoder.decode((await this.#fs.readFile(`${dir}/aliases/${e.name}`))!);
    }
    await writeYamlFile(this.#fs, `${dir}/meta.yaml`, {
      aliases,
      creation_timestamp: created,
      deployment_job_id: null,
      deployment_job_state: null,
      description: null,
      last_updated_timestamp: updated,
      name,
      workspace: "default",
    });
  }

  async createRegisteredModel(name: string): Promise<void> {
    await this.#init();
    const dir = this.#modelDir(name);
    if (await this.#fs.readFile(`${dir}/meta.yaml`) !== null) return;
    const now = this.#clock();
    await this.#writeModelMeta(name, now, now);
  }

  /**
   * A new version; from a logged model (`models:/m-...` and/or `modelId`) its storage
   * location is the model's artifacts and its run the model's source run, as in MLflow.
   */
  async createModelVersion(
    name: string,
    source: string,
    runId: string | null,
    modelId: string | null = null,
  ): Promise<MlflowModelVersion> {
    let storage = source;
    if (modelId !== null) {
      const model = await this.#models.getLoggedModel(modelId);
      if (source.startsWith("models:/")) storage = model.artifactLocation;
      runId = runId || model.sourceRunId;
    }
    await this.createRegisteredModel(name);
    const dir = this.#modelDir(name);
    let version = 1;
    for (const e of (await this.#fs.readDir(dir)) ?? []) {
      const m = /^version-(\d+)$/.exec(e.name);
      if (m) version = Math.max(version, Number(m[1]) + 1);
    }
    const now = this.#clock();
    await writeYamlFile(this.#fs, `${dir}/version-${version}/meta.yaml`, {
      creation_timestamp: now,
      current_stage: "None",
      deployment_job_state: null,
      description: null,
      last_updated_timestamp: now,
      model_id: modelId,
      name,
      run_id: runId,
      run_link: null,
      source,
      status: "READY",
      status_message: null,
      storage_location: storage,
      user_id: null,
      version,
      workspace: "default",
    });
    await this.#touchModel(name, now);
    return {
      name,
      version: String(version),
      source,
      runId: runId ?? "",
      ...(modelId === null ? {} : { modelId }),
    };
  }

  async #touchModel(name: string, now: number): Promise<void> {
    const meta = await readYamlFile(this.#fs, `${this.#modelDir(name)}/meta.yaml`);
    await this.#writeModelMeta(name, Number(meta?.creation_timestamp ?? now), now);
  }

  async setRegisteredModelAlias(name: string, alias: string, version: string): Promise<void> {
    const dir = this.#modelDir(name);
    validateMlflowKey("alias", alias);
    if (await this.#fs.readFile(`${dir}/version-${version}/meta.yaml`) === null) {
      throw new RangeError(
        `Cannot set alias "${alias}" of model "${name}": version ${version} does not exist in ${dir}`,
      );
    }
    await this.#fs.writeFile(`${dir}/aliases/${alias}`, encoder.encode(version));
    await this.#touchModel(name, this.#clock());
  }

  async getModelVersionByAlias(name: string, alias: string): Promise<MlflowModelVersion | null> {
    await this.#init();
    const dir = this.#modelDir(name);
    const v = await this.#fs.readFile(`${dir}/aliases/${alias}`);
    if (v === null) return null;
    const version = decoder.decode(v).trim();
    const meta = await readYamlFile(this.#fs, `${dir}/version-${version}/meta.yaml`);
    if (meta === null) return null;
    return {
      name,
      version,
      source: String(meta.source ?? ""),
      runId: String(meta.run_id ?? ""),
      ...(meta.model_id ? { modelId: String(meta.model_id) } : {}),
    };
  }

  /** The folder of an existing version; throws RangeError naming it when missing. */
  async #versionDir(name: string, version: string, action: string): Promise<string> {
    await this.#init();
    if (!/^\d+$/.test(version)) {
      throw new TypeError(`Cannot ${action}: version "${version}" is not a version number`);
    }
    const dir = `${this.#modelDir(name)}/version-${version}`;
    if (await this.#fs.readFile(`${dir}/meta.yaml`) === null) {
      throw new RangeError(
        `Cannot ${action}: model "${name}" has no version ${version} in ${this.root}/models`,
      );
    }
    return dir;
  }

  async setModelVersionTag(
    name: string,
    version: string,
    key: string,
    value: string,
  ): Promise<void> {
    const action = `set tag "${key}" of model "${name}" version ${version}`;
    validateMlflowKey("model version tag", key);
    const dir = await this.#versionDir(name, version, action);
    await this.#fs.writeFile(`${dir}/tags/${key}`, encoder.encode(value));
  }

  async updateModelVersionDescription(
    name: string,
    version: string,
    description: string,
  ): Promise<void> {
    const action = `update the description of model "${name}" version ${version}`;
    const dir = await this.#versionDir(name, version, action);
    const meta = (await readYamlFile(this.#fs, `${dir}/meta.yaml`))!;
    const now = this.#clock();
    await writeYamlFile(this.#fs, `${dir}/meta.yaml`, {
      ...meta,
      description,
      last_updated_timestamp: now,
    });
    await this.#touchModel(name, now);
  }
}
