/**
 * MLflow 3's run inputs, run outputs and logged models in the file store, in the layout
 * MLflow's own `FileStore` writes (checked against it by tests/tracking/logged_model_test.ts):
 *
 * ```
 * <exp>/datasets/<md5(name + digest)>/meta.yaml           the data set
 * <exp>/<run>/inputs/<md5(dataset id + run id)>/meta.yaml  its use by the run, with tags
 * <exp>/<run>/outputs/<model id>/meta.yaml                 a model the run produced, at a step
 * <exp>/models/<model id>/meta.yaml, params/, tags/, metrics/, artifacts/
 * ```
 *
 * MLflow writes `destination_id` of inputs and outputs as the source id and reads it back
 * that way; the same is done here so that either side reads the other's files.
 *
 * @module
 */
import { md5Hex } from "./_md5.ts";
import { readYamlFile, writeYamlFile, type YamlScalar, type YamlValue } from "./_yaml.ts";
import {
  checkLoggedValue,
  checkRelativePath,
  formatMetricValue,
  latestMetric,
  parseMetricValue,
  readKeyedFiles,
} from "./_file_store_format.ts";
import type { FileSystemAdapter } from "./file_system.ts";
import {
  type CreateLoggedModelOptions,
  type LoggedModelStatus,
  type MlflowDataset,
  type MlflowDatasetInput,
  type MlflowLoggedModel,
  type MlflowMetric,
  type MlflowModelOutput,
  validateMlflowKey,
} from "./tracking_store.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const STATUS_CODES: Readonly<Record<LoggedModelStatus, number>> = {
  PENDING: 1,
  READY: 2,
  FAILED: 3,
};

/** What the logged-model store needs of `FileStore`. */
export interface FileModelsHost {
  readonly fs: FileSystemAdapter;
  readonly root: string;
  readonly clock: () => number;
  /** Prepares the store; returns the ids of the active and deleted experiment folders. */
  experimentDirs(): Promise<string[]>;
  /** The experiment's `artifact_location`, or null when there is no such experiment. */
  experimentArtifactLocation(experimentId: string): Promise<string | null>;
}

const md5 = (...parts: string[]) => md5Hex(encoder.encode(parts.join("")));

/** Data sets, run inputs and outputs, logged models of one `mlruns` folder. */
export class FileModels {
  readonly #h: FileModelsHost;

  constructor(host: FileModelsHost) {
    this.#h = host;
  }

  /** Writes the data sets (once per experiment) and their use by the run (once per run). */
  async logInputs(
    experimentId: string,
    runDir: string,
    runId: string,
    datasets: readonly MlflowDatasetInput[],
  ): Promise<void> {
    const expDir = `${this.#h.root}/${experimentId}`;
    for (const { dataset, tags } of datasets) {
      checkDataset(dataset);
      for (const key of Object.keys(tags)) validateMlflowKey("input tag", key);
      const datasetId = md5(dataset.name, dataset.digest);
      const datasetMeta = `${expDir}/datasets/${datasetId}/meta.yaml`;
      if (await this.#h.fs.readFile(datasetMeta) === null) {
        await writeYamlFile(this.#h.fs, datasetMeta, {
          digest: dataset.digest,
          name: dataset.name,
          profile: dataset.profile,
          schema: dataset.schema,
          source: dataset.source,
          source_type: dataset.sourceType,
        });
      }
      const inputMeta = `${runDir}/inputs/${md5(datasetId, runId)}/meta.yaml`;
      if (await this.#h.fs.readFile(inputMeta) === null) {
        await writeYamlFile(this.#h.fs, inputMeta, {
          destination_id: datasetId,
          destination_type: "RUN",
          source_id: datasetId,
          source_type: "DATASET",
          tags: { ...tags },
        });
      }
    }
  }

  /** The data sets a run used, as MLflow reads them back. */
  async readInputs(experimentId: string, runDir: string): Promise<MlflowDatasetInput[]> {
    const out: MlflowDatasetInput[] = [];
    for (const e of (await this.#h.fs.readDir(`${runDir}/inputs`)) ?? []) {
      const meta = await readYamlFile(this.#h.fs, `${runDir}/inputs/${e.name}/meta.yaml`);
      if (meta === null || meta.source_type !== "DATASET") continue;
      const id = String(meta.source_id);
      if (!/^[0-9a-f]{32}$/.test(id)) continue;
      const d = await readYamlFile(
        this.#h.fs,
        `${this.#h.root}/${experimentId}/datasets/${id}/meta.yaml`,
      );
      if (d === null) continue;
      const text = (v: YamlValue | undefined) => (v === null || v === undefined ? null : String(v));
      out.push({
        dataset: {
          name: String(d.name),
          digest: String(d.digest),
          sourceType: String(d.source_type),
          source: String(d.source),
          schema: text(d.schema),
          profile: text(d.profile),
        },
        tags: stringMap(meta.tags),
      });
    }
    return out.sort((a, b) => (a.dataset.name < b.dataset.name ? -1 : 1));
  }

  /** Links models to the run as outputs at their step. */
  async logOutputs(runDir: string, outputs: readonly MlflowModelOutput[]): Promise<void> {
    for (const { modelId, step } of outputs) {
      checkModelId(modelId);
      const meta = `${runDir}/outputs/${modelId}/meta.yaml`;
      if (await this.#h.fs.readFile(meta) !== null) continue;
      await writeYamlFile(this.#h.fs, meta, {
        destination_id: modelId,
        destination_type: "MODEL_OUTPUT",
        source_id: modelId,
        source_type: "RUN_OUTPUT",
        step: Math.trunc(step),
        tags: {},
      });
    }
  }

  /** The models a run produced. */
  async readOutputs(runDir: string): Promise<MlflowModelOutput[]> {
    const out: MlflowModelOutput[] = [];
    for (const e of (await this.#h.fs.readDir(`${runDir}/outputs`)) ?? []) {
      const meta = await readYamlFile(this.#h.fs, `${runDir}/outputs/${e.name}/meta.yaml`);
      if (meta === null || meta.destination_type !== "MODEL_OUTPUT") continue;
      out.push({ modelId: String(meta.destination_id), step: Number(meta.step ?? 0) });
    }
    return out.sort((a, b) => a.step - b.step);
  }

  async createLoggedModel(options: CreateLoggedModelOptions): Promise<MlflowLoggedModel> {
    const { experimentId, name } = options;
    if (name.trim() === "" || name.includes("/") || name.includes(":")) {
      throw new TypeError(
        `Cannot create logged model "${name}": names must be non-empty, without "/" or ":"`,
      );
    }
    const location = await this.#h.experimentArtifactLocation(experimentId);
    if (location === null) {
      throw new RangeError(
        `Cannot create logged model "${name}": experiment ${experimentId} does not exist in ` +
          this.#h.root,
      );
    }
    for (const [k, v] of Object.entries(options.params ?? {})) checkLoggedValue("param", k, v);
    for (const [k, v] of Object.entries(options.tags ?? {})) checkLoggedValue("tag", k, v);
    const modelId = `m-${crypto.randomUUID().replaceAll("-", "")}`;
    const dir = `${this.#h.root}/${experimentId}/models/${modelId}`;
    const now = Math.trunc(this.#h.clock());
    await writeYamlFile(this.#h.fs, `${dir}/meta.yaml`, {
      ...modelMeta({
        artifact_location: `${location.replace(/\/+$/, "")}/models/${modelId}/artifacts`,
        creation_timestamp: now,
        experiment_id: experimentId,
        last_updated_timestamp: now,
        model_id: modelId,
        model_type: options.modelType ?? null,
        name,
        source_run_id: options.sourceRunId ?? null,
        status: STATUS_CODES.PENDING,
        status_message: null,
      }),
      lifecycle_stage: "active",
    });
    await this.#h.fs.mkdir(`${dir}/metrics`);
    await this.#h.fs.mkdir(`${dir}/params`);
    for (const [k, v] of Object.entries(options.params ?? {})) {
      await this.#h.fs.writeFile(`${dir}/params/${k}`, encoder.encode(v));
    }
    for (const [k, v] of Object.entries(options.tags ?? {})) {
      await this.#h.fs.writeFile(`${dir}/tags/${k}`, encoder.encode(v));
    }
    return await this.getLoggedModel(modelId);
  }

  /** The folder of a logged model (any experiment); throws RangeError when missing. */
  async #modelDir(modelId: string): Promise<string> {
    checkModelId(modelId);
    for (const exp of await this.#h.experimentDirs()) {
      const dir = `${this.#h.root}/${exp}/models/${modelId}`;
      if (await this.#h.fs.readFile(`${dir}/meta.yaml`) !== null) return dir;
    }
    throw new RangeError(`Cannot find logged model ${modelId} in ${this.#h.root}`);
  }

  async #readModel(dir: string): Promise<MlflowLoggedModel | null> {
    const meta = await readYamlFile(this.#h.fs, `${dir}/meta.yaml`);
    if (meta === null || meta.lifecycle_stage === "deleted") return null;
    const status = Object.entries(STATUS_CODES).find(([, c]) => c === meta.status)?.[0];
    const metrics: MlflowMetric[] = [];
    for (const [key, text] of await readKeyedFiles(this.#h.fs, `${dir}/metrics`)) {
      const points = text.split("\n").map((l) => l.trim().split(/\s+/)).filter((p) => p.length >= 4)
        .map((p) => ({
          key,
          timestamp: Number(p[0]),
          value: parseMetricValue(p[1]),
          step: Number(p[2]),
        }));
      const latest = latestMetric(points);
      if (latest !== null) metrics.push(latest);
    }
    const nullable = (
      v: YamlValue | undefined,
    ) => (v === null || v === undefined ? null : String(v));
    return {
      modelId: String(meta.model_id),
      experimentId: String(meta.experiment_id),
      name: String(meta.name),
      artifactLocation: String(meta.artifact_location),
      sourceRunId: nullable(meta.source_run_id),
      status: (status ?? "PENDING") as LoggedModelStatus,
      modelType: nullable(meta.model_type),
      creationTimestamp: Number(meta.creation_timestamp),
      params: Object.fromEntries(await readKeyedFiles(this.#h.fs, `${dir}/params`)),
      tags: Object.fromEntries(await readKeyedFiles(this.#h.fs, `${dir}/tags`)),
      metrics: metrics.sort((a, b) => (a.key < b.key ? -1 : 1)),
    };
  }

  async getLoggedModel(modelId: string): Promise<MlflowLoggedModel> {
    const model = await this.#readModel(await this.#modelDir(modelId));
    if (model === null) throw new RangeError(`Cannot find logged model ${modelId}: it is deleted`);
    return model;
  }

  async searchLoggedModels(
    experimentIds: readonly string[],
    filter: { sourceRunId?: string } = {},
  ): Promise<MlflowLoggedModel[]> {
    const out: MlflowLoggedModel[] = [];
    for (const exp of experimentIds) {
      if (!/^[\w-]+$/.test(exp)) continue;
      const models = `${this.#h.root}/${exp}/models`;
      for (const e of (await this.#h.fs.readDir(models)) ?? []) {
        if (!e.isDirectory || !e.name.startsWith("m-")) continue;
        const model = await this.#readModel(`${models}/${e.name}`);
        if (model === null) continue;
        if (filter.sourceRunId !== undefined && model.sourceRunId !== filter.sourceRunId) continue;
        out.push(model);
      }
    }
    return out.sort((a, b) => b.creationTimestamp - a.creationTimestamp);
  }

  async uploadArtifact(modelId: string, path: string, bytes: Uint8Array): Promise<void> {
    const rel = checkRelativePath("logged model artifact", path);
    if (rel === "") throw new TypeError(`Cannot upload a logged model artifact: the path is empty`);
    const model = await this.getLoggedModel(modelId);
    const root = model.artifactLocation.startsWith("file://")
      ? decodeURIComponent(model.artifactLocation.slice("file://".length))
      : `${await this.#modelDir(modelId)}/artifacts`;
    await this.#h.fs.writeFile(`${root}/${rel}`, bytes);
  }

  async logMetrics(
    modelId: string,
    runId: string,
    metrics: readonly MlflowMetric[],
  ): Promise<void> {
    const dir = await this.#modelDir(modelId);
    for (const m of metrics) {
      validateMlflowKey("metric", m.key);
      const line = `${Math.trunc(m.timestamp)} ${formatMetricValue(m.value)} ${
        Math.trunc(m.step)
      } ${runId}\n`;
      await this.#h.fs.writeFile(`${dir}/metrics/${m.key}`, encoder.encode(line), {
        append: true,
      });
    }
  }

  /** Adds `{name, version}` to the model's `mlflow.modelVersions` tag (a JSON list). */
  async addModelVersionTag(modelId: string, name: string, version: string): Promise<void> {
    const path = `${await this.#modelDir(modelId)}/tags/mlflow.modelVersions`;
    const old = await this.#h.fs.readFile(path);
    const list = old === null
      ? []
      : JSON.parse(decoder.decode(old)) as { name: string; version: number }[];
    if (!list.some((e) => e.name === name && String(e.version) === version)) {
      list.push({ name, version: Number(version) });
    }
    // json.dumps' spacing, as Python writes the tag.
    const text = list.map((e) => `{"name": ${JSON.stringify(e.name)}, "version": ${e.version}}`);
    await this.#h.fs.writeFile(path, encoder.encode(`[${text.join(", ")}]`));
  }

  async finalize(modelId: string, status: "READY" | "FAILED"): Promise<void> {
    const dir = await this.#modelDir(modelId);
    const meta = (await readYamlFile(this.#h.fs, `${dir}/meta.yaml`))!;
    // MLflow rewrites the file from the model's fields, which leaves lifecycle_stage out.
    await writeYamlFile(this.#h.fs, `${dir}/meta.yaml`, {
      ...modelMeta(meta as Record<string, YamlScalar>),
      status: STATUS_CODES[status],
      last_updated_timestamp: Math.trunc(this.#h.clock()),
    });
  }
}

/** The fields of a logged model's `meta.yaml` that MLflow persists. */
function modelMeta(m: Readonly<Record<string, YamlValue>>): Record<string, YamlValue> {
  const keys = [
    "artifact_location",
    "creation_timestamp",
    "experiment_id",
    "last_updated_timestamp",
    "model_id",
    "model_type",
    "name",
    "source_run_id",
    "status",
    "status_message",
  ];
  return Object.fromEntries(keys.map((k) => [k, m[k] ?? null]));
}

function stringMap(value: YamlValue | undefined): Record<string, string> {
  if (value === null || value === undefined || typeof value !== "object" || Array.isArray(value)) {
    return {};
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
}

function checkModelId(modelId: string): void {
  if (!/^m-[0-9a-f]{32}$/.test(modelId)) {
    throw new TypeError(
      `Cannot find logged model "${modelId}": not a logged model id (m- and 32 hex digits)`,
    );
  }
}

/** MLflow's limits on a data set's fields. */
function checkDataset(d: MlflowDataset): void {
  const limits: [keyof MlflowDataset, number][] = [
    ["name", 500],
    ["digest", 36],
    ["sourceType", 36],
    ["source", 65535],
    ["schema", 1048575],
    ["profile", 16777215],
  ];
  for (const [field, max] of limits) {
    const value = d[field];
    if ((field === "name" || field === "digest") && !value) {
      throw new TypeError(`Cannot log data set "${d.name}": its ${field} is empty`);
    }
    if (value !== null && value.length > max) {
      throw new RangeError(
        `Cannot log data set "${d.name}": its ${field} has ${value.length} characters, at most ` +
          `${max} allowed`,
      );
    }
  }
}
