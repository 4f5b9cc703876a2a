/**
 * `FileStore`: MLflow's file-store layout (`./mlruns`) written and read directly, so that
 * `mlflow ui --backend-store-uri ./mlruns` and `MlflowClient` see the runs. The file system
 * is injected (`denoFileSystem()` in Deno).
 *
 * @module
 */
import { FileModels } from "./_file_models.ts";
import { FileRegistry } from "./_file_registry.ts";
import {
  checkLoggedValue,
  checkRelativePath,
  experimentIdForName,
  fileUri,
  latestMetric,
  metricLines,
  parseMetricLines,
  randomExperimentId,
  runInfoFromMeta,
  runMeta,
} from "./_file_store_format.ts";
import { readYamlFile, writeYamlFile, type YamlValue } from "./_yaml.ts";
import type { FileSystemAdapter } from "./file_system.ts";
import {
  type CreateLoggedModelOptions,
  type CreateRunOptions,
  type MlflowArtifact,
  type MlflowBatch,
  type MlflowDatasetInput,
  type MlflowExperiment,
  type MlflowLoggedModel,
  type MlflowMetric,
  type MlflowModelOutput,
  type MlflowModelVersion,
  type MlflowRun,
  type MlflowRunInfo,
  type RunUpdate,
  type SearchRunsOptions,
  type TrackingStore,
  validateMlflowKey,
} from "./tracking_store.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const RESERVED = new Set([".trash", "models"]);
/** Folders of an experiment that are not runs (MLflow's RESERVED_EXPERIMENT_FOLDERS). */
const EXPERIMENT_FOLDERS = new Set(["tags", "datasets", "traces", "models"]);
/** Options of `FileStore`. */
export interface FileStoreOptions {
  /** Milliseconds since the epoch; `Date.now` by default. */
  clock?: () => number;
}

/**
 * MLflow's file store on an injected file system, rooted at an absolute path.
 *
 * @example
 * ```ts ignore
 * const store = new FileStore(denoFileSystem(), absolutePath("mlruns"));
 * const exp = await getOrCreateExperiment(store, "component-x-lstm");
 * ```
 */
export class FileStore implements TrackingStore {
  /** Absolute path of the `mlruns` folder. */
  readonly root: string;
  readonly location: string;
  readonly #fs: FileSystemAdapter;
  readonly #clock: () => number;
  readonly #runExperiment = new Map<string, string>();
  readonly #registry: FileRegistry;
  readonly #models: FileModels;
  #ready: Promise<void> | null = null;

  /** A store rooted at `root` (absolute, `/`-separated). */
  constructor(fs: FileSystemAdapter, root: string, options: FileStoreOptions = {}) {
    this.#fs = fs;
    this.root = root.replace(/\/+$/, "");
    this.location = this.root;
    this.#clock = options.clock ?? Date.now;
    this.#registry = new FileRegistry(fs, this.root, this.#clock, () => this.#init(), {
      getLoggedModel: (id) => this.getLoggedModel(id),
    });
    this.#models = new FileModels({
      fs,
      root: this.root,
      clock: this.#clock,
      experimentDirs: async () => {
        await this.#init();
        const trash = ((await fs.readDir(`${this.root}/.trash`)) ?? []).map((e) =>
          `.trash/${e.name}`
        );
        return [...await this.#experimentIds(), ...trash];
      },
      experimentArtifactLocation: async (id) => {
        await this.#init();
        const exp = /^[\w-]+$/.test(id) ? await this.#experiment(id) : null;
        return exp === null || exp.lifecycleStage !== "active" ? null : exp.artifactLocation;
      },
    });
  }

  /** Creates the root and the Default experiment (id 0) like MLflow does, once. */
  #init(): Promise<void> {
    this.#ready ??= (async () => {
      if (await this.#fs.readFile(`${this.root}/0/meta.yaml`) !== null) return;
      const entries = await this.#fs.readDir(this.root);
      if (entries !== null && entries.some((e) => e.name === "0")) return;
      await this.#writeExperimentMeta("0", "Default", this.#clock());
    })();
    return this.#ready;
  }

  async #writeExperimentMeta(id: string, name: string, now: number): Promise<void> {
    await this.#fs.mkdir(`${this.root}/${id}`);
    await this.#writeYaml(`${this.root}/${id}/meta.yaml`, {
      artifact_location: fileUri(`${this.root}/${id}`),
      creation_time: now,
      effective_trace_archival_retention: null,
      experiment_id: id,
      last_update_time: now,
      lifecycle_stage: "active",
      name,
      trace_location: null,
      workspace: "default",
    });
  }

  #readYaml(path: string): Promise<Record<string, YamlValue> | null> {
    return readYamlFile(this.#fs, path);
  }

  #writeYaml(path: string, doc: Record<string, YamlValue>): Promise<void> {
    return writeYamlFile(this.#fs, path, doc);
  }

  async #experimentIds(): Promise<string[]> {
    const entries = (await this.#fs.readDir(this.root)) ?? [];
    return entries.filter((e) => e.isDirectory && !RESERVED.has(e.name)).map((e) => e.name);
  }

  /** The experiment in folder `dir` (relative to the root: `<id>` or `.trash/<id>`). */
  async #experiment(dir: string): Promise<MlflowExperiment | null> {
    const meta = await this.#readYaml(`${this.root}/${dir}/meta.yaml`);
    if (meta === null) return null;
    return {
      experimentId: String(meta.experiment_id ?? dir.split("/").pop()),
      name: String(meta.name),
      artifactLocation: String(meta.artifact_location ?? ""),
      lifecycleStage: dir.startsWith(".trash/")
        ? "deleted"
        : String(meta.lifecycle_stage ?? "active"),
      tags: Object.fromEntries(await this.#readKeyed(`${this.root}/${dir}/tags`)),
    };
  }

  async getExperimentByName(name: string): Promise<MlflowExperiment | null> {
    await this.#init();
    for (const id of await this.#experimentIds()) {
      const exp = await this.#experiment(id);
      if (exp?.name === name) return exp;
    }
    for (const e of (await this.#fs.readDir(`${this.root}/.trash`)) ?? []) {
      const exp = await this.#experiment(`.trash/${e.name}`);
      if (exp?.name === name) return exp;
    }
    return null;
  }

  async getExperiment(experimentId: string): Promise<MlflowExperiment | null> {
    await this.#init();
    if (!/^[\w-]+$/.test(experimentId)) return null;
    return await this.#experiment(experimentId) ?? await this.#experiment(`.trash/${experimentId}`);
  }

  /** Every active experiment of this folder. */
  async listExperiments(): Promise<MlflowExperiment[]> {
    await this.#init();
    const out: MlflowExperiment[] = [];
    for (const id of await this.#experimentIds()) {
      const exp = await this.#experiment(id);
      if (exp !== null && exp.lifecycleStage === "active") out.push(exp);
    }
    return out;
  }

  /**
   * Creates an experiment (with `tags`); throws when one of that name exists. Its id is
   * derived from the name and its folder made with an atomic mkdir, so of two processes
   * creating one name at once exactly one succeeds and the other finds the same experiment
   * (with MLflow's random ids each would make its own, and their runs would be split).
   */
  async createExperiment(
    name: string,
    tags: Readonly<Record<string, string>> = {},
  ): Promise<string> {
    await this.#init();
    if (name.trim() === "") {
      throw new TypeError(`Cannot create experiment: the name is empty; pass a non-empty name`);
    }
    const exists = () =>
      new RangeError(
        `Cannot create experiment "${name}" in ${this.root}: an experiment with that name exists`,
      );
    if (await this.getExperimentByName(name) !== null) throw exists();
    for (const [key, value] of Object.entries(tags)) checkLoggedValue("tag", key, value);
    const create = async (id: string) => {
      await this.#writeExperimentMeta(id, name, this.#clock());
      for (const [key, value] of Object.entries(tags)) {
        await this.#fs.writeFile(`${this.root}/${id}/tags/${key}`, encoder.encode(value));
      }
      return id;
    };
    const id = await experimentIdForName(name);
    if (await this.#fs.mkdir(`${this.root}/${id}`)) return await create(id);
    // Another process made the folder: it is writing meta.yaml (wait for it), or it died.
    let other = await this.#experiment(id);
    for (let waited = 0; other === null && waited < 5000; waited += 50) {
      await new Promise((r) => setTimeout(r, 50));
      other = await this.#experiment(id);
    }
    if (other === null) return await create(id); // left half-made by a crash: finish it
    if (other.name === name) throw exists();
    // Two names with one derived id (never seen in practice): a random id, as MLflow does.
    const existing = new Set(await this.#experimentIds());
    let random = randomExperimentId();
    while (existing.has(random)) random = randomExperimentId();
    return await create(random);
  }

  /** Moves the experiment to `.trash/` marked deleted, as MLflow does. */
  async deleteExperiment(experimentId: string): Promise<void> {
    const exp = await this.getExperiment(experimentId);
    if (exp === null || experimentId === "0") {
      throw new RangeError(
        `Cannot delete experiment ${experimentId}: ${
          exp === null ? `it does not exist in ${this.root}` : "it is the Default experiment"
        }`,
      );
    }
    const meta = (await this.#readYaml(`${this.root}/${experimentId}/meta.yaml`))!;
    await this.#writeYaml(`${this.root}/${experimentId}/meta.yaml`, {
      ...meta,
      lifecycle_stage: "deleted",
      last_update_time: this.#clock(),
    });
    await this.#fs.rename(`${this.root}/${experimentId}`, `${this.root}/.trash/${experimentId}`);
  }

  async #runDir(runId: string): Promise<string> {
    await this.#init();
    if (!/^[a-zA-Z0-9_-]{1,256}$/.test(runId)) {
      throw new TypeError(`Cannot find run "${runId}": not a valid run id (expected 32 hex chars)`);
    }
    let exp = this.#runExperiment.get(runId);
    if (exp === undefined) {
      for (const id of await this.#experimentIds()) {
        if (await this.#fs.readFile(`${this.root}/${id}/${runId}/meta.yaml`) !== null) {
          exp = id;
          break;
        }
      }
    }
    if (exp === undefined) {
      throw new RangeError(`Cannot find run "${runId}" in ${this.root}: no experiment holds it`);
    }
    this.#runExperiment.set(runId, exp);
    return `${this.root}/${exp}/${runId}`;
  }

  async createRun(options: CreateRunOptions): Promise<MlflowRunInfo> {
    await this.#init();
    const exp = await this.#experiment(options.experimentId);
    if (exp === null) {
      throw new RangeError(
        `Cannot create run: experiment "${options.experimentId}" does not exist in ${this.root}`,
      );
    }
    const runId = crypto.randomUUID().replaceAll("-", "");
    const dir = `${this.root}/${options.experimentId}/${runId}`;
    const info: MlflowRunInfo = {
      runId,
      experimentId: options.experimentId,
      runName: options.runName,
      userId: options.userId,
      status: "RUNNING",
      startTime: options.startTime,
      endTime: null,
      artifactUri: fileUri(`${dir}/artifacts`),
      lifecycleStage: "active",
    };
    for (const sub of ["metrics", "params", "tags", "artifacts"]) {
      await this.#fs.mkdir(`${dir}/${sub}`);
    }
    await this.#writeYaml(`${dir}/meta.yaml`, runMeta(info));
    this.#runExperiment.set(runId, options.experimentId);
    await this.logBatch(runId, {
      tags: { "mlflow.runName": options.runName, ...options.tags },
    });
    return info;
  }

  async updateRun(runId: string, update: RunUpdate): Promise<void> {
    const dir = await this.#runDir(runId);
    const meta = await this.#readYaml(`${dir}/meta.yaml`);
    if (meta === null) {
      throw new RangeError(`Cannot update run "${runId}": ${dir}/meta.yaml is gone`);
    }
    const info = runInfoFromMeta(meta);
    if (update.status !== undefined) info.status = update.status;
    if (update.endTime !== undefined) info.endTime = update.endTime;
    if (update.runName !== undefined) info.runName = update.runName;
    // meta.yaml is replaced atomically: a concurrent reader sees the old or the new name.
    await this.#writeYaml(`${dir}/meta.yaml`, runMeta(info));
    if (update.runName !== undefined) {
      await this.logBatch(runId, { tags: { "mlflow.runName": update.runName } });
    }
  }

  /** Files under a folder as key -> contents, keys nested with `/`. */
  async #readKeyed(dir: string, prefix = ""): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const e of (await this.#fs.readDir(dir)) ?? []) {
      const key = prefix + e.name;
      if (e.isDirectory) {
        for (const [k, v] of await this.#readKeyed(`${dir}/${e.name}`, `${key}/`)) out.set(k, v);
      } else {
        out.set(
          key,
          decoder.decode((await this.#fs.readFile(`${dir}/${e.name}`)) ?? new Uint8Array()),
        );
      }
    }
    return out;
  }

  async #readRun(dir: string, namePrefix = ""): Promise<MlflowRun | null> {
    const meta = await this.#readYaml(`${dir}/meta.yaml`);
    if (meta === null) return null;
    const info = runInfoFromMeta(meta);
    if (!info.runName.startsWith(namePrefix)) return null;
    const params = Object.fromEntries(await this.#readKeyed(`${dir}/params`));
    const tags = Object.fromEntries(await this.#readKeyed(`${dir}/tags`));
    const metrics: Record<string, number> = {};
    for (const [key, text] of await this.#readKeyed(`${dir}/metrics`)) {
      const latest = latestMetric(parseMetricLines(key, text));
      if (latest !== null) metrics[key] = latest.value;
    }
    const inputs = await this.#models.readInputs(info.experimentId, dir);
    const outputs = await this.#models.readOutputs(dir);
    return { info, params, tags, metrics, inputs, outputs };
  }

  async getRun(runId: string): Promise<MlflowRun> {
    const dir = await this.#runDir(runId);
    const run = await this.#readRun(dir);
    if (run === null) {
      throw new RangeError(`Cannot read run "${runId}": ${dir}/meta.yaml is missing`);
    }
    return run;
  }

  async searchRuns(
    experimentIds: readonly string[],
    options: SearchRunsOptions = {},
  ): Promise<MlflowRun[]> {
    await this.#init();
    const runs: MlflowRun[] = [];
    const wanted = Object.entries(options.tags ?? {});
    for (const exp of experimentIds) {
      for (const e of (await this.#fs.readDir(`${this.root}/${exp}`)) ?? []) {
        if (!e.isDirectory || EXPERIMENT_FOLDERS.has(e.name)) continue;
        const run = await this.#readRun(`${this.root}/${exp}/${e.name}`, options.runNamePrefix);
        if (
          run !== null && run.info.lifecycleStage === "active" &&
          wanted.every(([k, v]) => run.tags[k] === v)
        ) {
          this.#runExperiment.set(run.info.runId, exp);
          runs.push(run);
        }
      }
    }
    return runs.sort((a, b) => b.info.startTime - a.info.startTime);
  }

  /** Marks the run deleted (it stays in place, as in MLflow's file store). */
  async deleteRun(runId: string): Promise<void> {
    const dir = await this.#runDir(runId);
    const meta = await this.#readYaml(`${dir}/meta.yaml`);
    if (meta === null) {
      throw new RangeError(`Cannot delete run "${runId}": ${dir}/meta.yaml is gone`);
    }
    await this.#writeYaml(`${dir}/meta.yaml`, {
      ...meta,
      deleted_time: this.#clock(),
      lifecycle_stage: "deleted",
    });
  }

  async logBatch(runId: string, batch: MlflowBatch): Promise<void> {
    const dir = await this.#runDir(runId);
    for (const [key, value] of Object.entries(batch.params ?? {})) {
      checkLoggedValue("param", key, value);
      const path = `${dir}/params/${key}`;
      const old = await this.#fs.readFile(path);
      if (old !== null) {
        const previous = decoder.decode(old);
        if (previous !== value) {
          throw new RangeError(
            `Cannot log param "${key}" on run ${runId}: it was already logged as ` +
              `${JSON.stringify(previous)}, now ${JSON.stringify(value)}; params are immutable`,
          );
        }
        continue;
      }
      await this.#fs.writeFile(path, encoder.encode(value));
    }
    for (const [key, value] of Object.entries(batch.tags ?? {})) {
      checkLoggedValue("tag", key, value);
      await this.#fs.writeFile(`${dir}/tags/${key}`, encoder.encode(value));
    }
    for (const [key, text] of metricLines(batch.metrics ?? [])) {
      await this.#fs.writeFile(`${dir}/metrics/${key}`, encoder.encode(text), { append: true });
    }
  }

  async getMetricHistory(runId: string, key: string): Promise<MlflowMetric[]> {
    const dir = await this.#runDir(runId);
    validateMlflowKey("metric", key);
    const bytes = await this.#fs.readFile(`${dir}/metrics/${key}`);
    return bytes === null ? [] : parseMetricLines(key, decoder.decode(bytes));
  }

  async #artifactRoot(runId: string): Promise<string> {
    const dir = await this.#runDir(runId);
    const meta = await this.#readYaml(`${dir}/meta.yaml`);
    const uri = String(meta?.artifact_uri ?? "");
    if (uri.startsWith("file://")) return decodeURIComponent(uri.slice("file://".length));
    if (uri.startsWith("/")) return uri;
    return `${dir}/artifacts`;
  }

  async uploadArtifact(runId: string, path: string, bytes: Uint8Array): Promise<void> {
    const rel = checkRelativePath("artifact", path);
    if (rel === "") throw new TypeError(`Cannot upload artifact: the path is empty`);
    await this.#fs.writeFile(`${await this.#artifactRoot(runId)}/${rel}`, bytes);
  }

  async listArtifacts(runId: string, path = ""): Promise<MlflowArtifact[]> {
    const rel = checkRelativePath("artifact folder", path);
    const base = await this.#artifactRoot(runId);
    const entries = (await this.#fs.readDir(rel === "" ? base : `${base}/${rel}`)) ?? [];
    return entries
      .map((e) => ({
        path: rel === "" ? e.name : `${rel}/${e.name}`,
        isDir: e.isDirectory,
        fileSize: e.isDirectory ? null : e.size,
      }))
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async downloadArtifact(runId: string, path: string): Promise<Uint8Array> {
    const rel = checkRelativePath("artifact", path);
    const file = `${await this.#artifactRoot(runId)}/${rel}`;
    const bytes = await this.#fs.readFile(file);
    if (bytes === null) {
      throw new RangeError(
        `Cannot download artifact "${path}" of run ${runId}: ${file} does not exist`,
      );
    }
    return bytes;
  }

  createRegisteredModel(name: string): Promise<void> {
    return this.#registry.createRegisteredModel(name);
  }

  async logInputs(runId: string, datasets: readonly MlflowDatasetInput[]): Promise<void> {
    const dir = await this.#runDir(runId);
    await this.#models.logInputs(this.#runExperiment.get(runId)!, dir, runId, datasets);
  }

  async logOutputs(runId: string, outputs: readonly MlflowModelOutput[]): Promise<void> {
    await this.#models.logOutputs(await this.#runDir(runId), outputs);
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

  async createModelVersion(
    name: string,
    source: string,
    runId: string | null,
    options: { modelId?: string } = {},
  ): Promise<MlflowModelVersion> {
    const modelId = options.modelId ?? modelIdOfSource(source);
    const version = await this.#registry.createModelVersion(name, source, runId, modelId);
    // What mlflow.register_model adds: the logged model lists its registered versions.
    if (modelId !== null) await this.#models.addModelVersionTag(modelId, name, version.version);
    return version;
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
}

/** The logged model id of a `models:/m-...` source, else null. */
function modelIdOfSource(source: string): string | null {
  return /^models:\/(m-[0-9a-f]{32})\/?$/.exec(source)?.[1] ?? null;
}
