/**
 * `FileStore`: MLflow's file-store layout (`./mlruns`) written and read directly, so that
 * `mlflow ui --backend-store-uri ./mlruns` and `MlflowClient` see the runs. The file system
 * is injected (`denoFileSystem()` in Deno). Run folders and their artifacts are here; the
 * experiment folders are `_file_experiments.ts`, a run's params, tags and metrics files
 * `_file_run_data.ts`, the registry `_file_registry.ts`, and MLflow 3's run inputs, outputs
 * and logged models `_file_models.ts`.
 *
 * @module
 */
import { FileExperiments } from "./_file_experiments.ts";
import { FileModels } from "./_file_models.ts";
import { FileRegistry } from "./_file_registry.ts";
import { readMetricHistory, readRunData, writeRunBatch } from "./_file_run_data.ts";
import { checkRelativePath, fileUri, runInfoFromMeta, runMeta } from "./_file_store_format.ts";
import { readYamlFile, writeYamlFile } from "./_yaml.ts";
import type { FileSystemAdapter } from "./file_system.ts";
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
  readonly #experiments: FileExperiments;
  readonly #registry: FileRegistry;
  readonly #models: FileModels;

  /** A store rooted at `root` (absolute, `/`-separated). */
  constructor(fs: FileSystemAdapter, root: string, options: FileStoreOptions = {}) {
    this.#fs = fs;
    this.root = root.replace(/\/+$/, "");
    this.location = this.root;
    this.#clock = options.clock ?? Date.now;
    this.#experiments = new FileExperiments(fs, this.root, this.#clock);
    this.#registry = new FileRegistry(fs, this.root, this.#clock, () => this.#experiments.init(), {
      getLoggedModel: (id) => this.getLoggedModel(id),
    });
    this.#models = new FileModels({
      fs,
      root: this.root,
      clock: this.#clock,
      experimentDirs: () => this.#experiments.dirs(),
      experimentArtifactLocation: (id) => this.#experiments.activeArtifactLocation(id),
    });
  }

  getExperimentByName(name: string): Promise<MlflowExperiment | null> {
    return this.#experiments.getByName(name);
  }

  getExperiment(experimentId: string): Promise<MlflowExperiment | null> {
    return this.#experiments.get(experimentId);
  }

  /** Every active experiment of this folder. */
  listExperiments(): Promise<MlflowExperiment[]> {
    return this.#experiments.list();
  }

  createExperiment(name: string, tags?: Readonly<Record<string, string>>): Promise<string> {
    return this.#experiments.create(name, tags);
  }

  deleteExperiment(experimentId: string): Promise<void> {
    return this.#experiments.delete(experimentId);
  }

  async #runDir(runId: string): Promise<string> {
    await this.#experiments.init();
    if (!/^[a-zA-Z0-9_-]{1,256}$/.test(runId)) {
      throw new TypeError(`Cannot find run "${runId}": not a valid run id (expected 32 hex chars)`);
    }
    let exp = this.#runExperiment.get(runId);
    if (exp === undefined) {
      for (const id of await this.#experiments.ids()) {
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
    await this.#experiments.init();
    const exp = await this.#experiments.read(options.experimentId);
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
    await writeYamlFile(this.#fs, `${dir}/meta.yaml`, runMeta(info));
    this.#runExperiment.set(runId, options.experimentId);
    await this.logBatch(runId, {
      tags: { "mlflow.runName": options.runName, ...options.tags },
    });
    return info;
  }

  async updateRun(runId: string, update: RunUpdate): Promise<void> {
    const dir = await this.#runDir(runId);
    const meta = await readYamlFile(this.#fs, `${dir}/meta.yaml`);
    if (meta === null) {
      throw new RangeError(`Cannot update run "${runId}": ${dir}/meta.yaml is gone`);
    }
    const info = runInfoFromMeta(meta);
    if (update.status !== undefined) info.status = update.status;
    if (update.endTime !== undefined) info.endTime = update.endTime;
    if (update.runName !== undefined) info.runName = update.runName;
    // meta.yaml is replaced atomically: a concurrent reader sees the old or the new name.
    await writeYamlFile(this.#fs, `${dir}/meta.yaml`, runMeta(info));
    if (update.runName !== undefined) {
      await this.logBatch(runId, { tags: { "mlflow.runName": update.runName } });
    }
  }

  async #readRun(dir: string, namePrefix = ""): Promise<MlflowRun | null> {
    const meta = await readYamlFile(this.#fs, `${dir}/meta.yaml`);
    if (meta === null) return null;
    const info = runInfoFromMeta(meta);
    if (!info.runName.startsWith(namePrefix)) return null;
    const { params, tags, metrics } = await readRunData(this.#fs, dir);
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
    await this.#experiments.init();
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
    const meta = await readYamlFile(this.#fs, `${dir}/meta.yaml`);
    if (meta === null) {
      throw new RangeError(`Cannot delete run "${runId}": ${dir}/meta.yaml is gone`);
    }
    await writeYamlFile(this.#fs, `${dir}/meta.yaml`, {
      ...meta,
      deleted_time: this.#clock(),
      lifecycle_stage: "deleted",
    });
  }

  async logBatch(runId: string, batch: MlflowBatch): Promise<void> {
    await writeRunBatch(this.#fs, await this.#runDir(runId), runId, batch);
  }

  async getMetricHistory(runId: string, key: string): Promise<MlflowMetric[]> {
    return await readMetricHistory(this.#fs, await this.#runDir(runId), key);
  }

  async #artifactRoot(runId: string): Promise<string> {
    const dir = await this.#runDir(runId);
    const meta = await readYamlFile(this.#fs, `${dir}/meta.yaml`);
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
