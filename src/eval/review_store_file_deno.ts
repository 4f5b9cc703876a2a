/**
 * Deno edge: {@link ReviewStore} over MLflow's local file store (`./mlruns`), including
 * the model registry under `mlruns/models/`, in the layout python `mlflow` reads.
 *
 * @module
 */
import { formatFlatYaml, parseFlatYaml, type YamlScalar } from "./_flat_yaml.ts";
import type {
  ReviewArtifact,
  ReviewMetricPoint,
  ReviewModelVersion,
  ReviewRun,
  ReviewStore,
} from "./review_store.ts";

const STATUS = ["", "RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"];

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

async function readYaml(path: string) {
  return parseFlatYaml(await Deno.readTextFile(path));
}

/** Files under `dir`, recursively, as `relative/path -> content`. */
async function readKeyFiles(dir: string, prefix = ""): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  if (!(await exists(dir))) return out;
  for await (const e of Deno.readDir(dir)) {
    const rel = prefix === "" ? e.name : `${prefix}/${e.name}`;
    if (e.isDirectory) Object.assign(out, await readKeyFiles(`${dir}/${e.name}`, rel));
    else if (e.isFile) out[rel] = await Deno.readTextFile(`${dir}/${e.name}`);
  }
  return out;
}

function parseMetricLines(text: string): ReviewMetricPoint[] {
  const points: ReviewMetricPoint[] = [];
  for (const line of text.split("\n")) {
    const parts = line.trim().split(/\s+/);
    if (parts.length < 2) continue;
    const value = parts[1] === "inf"
      ? Infinity
      : parts[1] === "-inf"
      ? -Infinity
      : Number(parts[1]);
    points.push({ timestamp: Number(parts[0]), value, step: Number(parts[2] ?? 0) });
  }
  return points;
}

function latest(points: ReviewMetricPoint[]): number {
  let best = points[0];
  for (const p of points) {
    if (p.step > best.step || (p.step === best.step && p.timestamp >= best.timestamp)) best = p;
  }
  return best.value;
}

function fileUriToPath(uri: string, what: string): string {
  if (uri.startsWith("file://")) return decodeURIComponent(new URL(uri).pathname);
  if (uri.startsWith("/")) return uri;
  throw new TypeError(
    `Cannot locate ${what}: expected a file:// artifact URI in a local store, received "${uri}"`,
  );
}

function safeKey(key: string, what: string): string {
  if (key === "" || key.startsWith("/") || key.split("/").includes("..")) {
    throw new RangeError(
      `Cannot use ${what} "${key}": expected a relative path without ".." segments`,
    );
  }
  return key;
}

/** Writes a file through a temporary name and a rename. */
async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  const tmp = `${path}.tmp-${crypto.randomUUID()}`;
  if (typeof data === "string") await Deno.writeTextFile(tmp, data);
  else await Deno.writeFile(tmp, data);
  await Deno.rename(tmp, path);
}

/** {@link ReviewStore} over a local `mlruns` folder. */
export class FileReviewStore implements ReviewStore {
  /** The mlruns folder. */
  readonly location: string;

  /** `root`: the mlruns folder (a path or a `file://` URI). */
  constructor(root: string) {
    this.location = root.startsWith("file://") ? fileUriToPath(root, "mlruns") : root;
  }

  async #experimentDirs(): Promise<string[]> {
    const out: string[] = [];
    if (!(await exists(this.location))) return out;
    for await (const e of Deno.readDir(this.location)) {
      if (!e.isDirectory || e.name.startsWith(".") || e.name === "models") continue;
      if (await exists(`${this.location}/${e.name}/meta.yaml`)) out.push(e.name);
    }
    return out;
  }

  async experimentId(name: string): Promise<string | null> {
    for (const id of await this.#experimentDirs()) {
      const meta = await readYaml(`${this.location}/${id}/meta.yaml`);
      if (meta.name === name && meta.lifecycle_stage !== "deleted") {
        return String(meta.experiment_id ?? id);
      }
    }
    return null;
  }

  async #runDir(runId: string): Promise<string> {
    for (const exp of await this.#experimentDirs()) {
      const dir = `${this.location}/${exp}/${runId}`;
      if (await exists(`${dir}/meta.yaml`)) return dir;
    }
    throw new Deno.errors.NotFound(
      `Cannot find run ${runId} in ${this.location}: no <experiment>/${runId}/meta.yaml; ` +
        "check the run id (deno task runs lists them) or pass --mlflow-tracking-uri",
    );
  }

  async #readRun(dir: string): Promise<ReviewRun> {
    const meta = await readYaml(`${dir}/meta.yaml`);
    const metrics: Record<string, number> = {};
    for (const [key, text] of Object.entries(await readKeyFiles(`${dir}/metrics`))) {
      const points = parseMetricLines(text);
      if (points.length > 0) metrics[key] = latest(points);
    }
    const tags = await readKeyFiles(`${dir}/tags`);
    return {
      runId: String(meta.run_id ?? meta.run_uuid),
      runName: String(meta.run_name ?? tags["mlflow.runName"] ?? ""),
      experimentId: String(meta.experiment_id),
      status: STATUS[Number(meta.status)] ?? String(meta.status),
      startTime: typeof meta.start_time === "number" ? meta.start_time : null,
      endTime: typeof meta.end_time === "number" ? meta.end_time : null,
      artifactUri: String(meta.artifact_uri),
      params: await readKeyFiles(`${dir}/params`),
      tags,
      metrics,
    };
  }

  async searchRuns(experimentId: string): Promise<ReviewRun[]> {
    const dir = `${this.location}/${experimentId}`;
    const runs: ReviewRun[] = [];
    for await (const e of Deno.readDir(dir)) {
      if (!e.isDirectory || !(await exists(`${dir}/${e.name}/meta.yaml`))) continue;
      const meta = await readYaml(`${dir}/${e.name}/meta.yaml`);
      if (meta.lifecycle_stage === "deleted") continue;
      runs.push(await this.#readRun(`${dir}/${e.name}`));
    }
    return runs;
  }

  async getRun(runId: string): Promise<ReviewRun> {
    return this.#readRun(await this.#runDir(runId));
  }

  async metricHistory(runId: string, key: string): Promise<ReviewMetricPoint[]> {
    const path = `${await this.#runDir(runId)}/metrics/${safeKey(key, "metric key")}`;
    if (!(await exists(path))) return [];
    return parseMetricLines(await Deno.readTextFile(path));
  }

  async #artifactRoot(runId: string): Promise<string> {
    const run = await this.getRun(runId);
    return fileUriToPath(run.artifactUri, `the artifacts of run ${runId}`);
  }

  async listArtifacts(runId: string, path: string): Promise<ReviewArtifact[]> {
    const root = await this.#artifactRoot(runId);
    const dir = path === "" ? root : `${root}/${safeKey(path, "artifact path")}`;
    if (!(await exists(dir))) return [];
    const out: ReviewArtifact[] = [];
    for await (const e of Deno.readDir(dir)) {
      out.push({ path: path === "" ? e.name : `${path}/${e.name}`, isDir: e.isDirectory });
    }
    return out.sort((a, b) => a.path.localeCompare(b.path));
  }

  async readArtifact(runId: string, path: string): Promise<Uint8Array> {
    return await Deno.readFile(
      `${await this.#artifactRoot(runId)}/${safeKey(path, "artifact path")}`,
    );
  }

  async writeArtifact(runId: string, path: string, bytes: Uint8Array): Promise<void> {
    await writeAtomic(
      `${await this.#artifactRoot(runId)}/${safeKey(path, "artifact path")}`,
      bytes,
    );
  }

  async logMetrics(
    runId: string,
    metrics: Record<string, number>,
    step: number,
    timestamp: number,
  ): Promise<void> {
    const dir = `${await this.#runDir(runId)}/metrics`;
    await Deno.mkdir(dir, { recursive: true });
    for (const [key, value] of Object.entries(metrics)) {
      const v = Number.isNaN(value)
        ? "nan"
        : value === Infinity
        ? "inf"
        : value === -Infinity
        ? "-inf"
        : String(value);
      await Deno.writeTextFile(
        `${dir}/${safeKey(key, "metric key")}`,
        `${timestamp} ${v} ${step}\n`,
        {
          append: true,
        },
      );
    }
  }

  async setRunTag(runId: string, key: string, value: string): Promise<void> {
    await writeAtomic(`${await this.#runDir(runId)}/tags/${safeKey(key, "tag key")}`, value);
  }

  #modelDir(model: string): string {
    return `${this.location}/models/${safeKey(model, "model name")}`;
  }

  async modelVersionByAlias(model: string, alias: string): Promise<ReviewModelVersion | null> {
    const aliasPath = `${this.#modelDir(model)}/aliases/${safeKey(alias, "alias")}`;
    if (!(await exists(aliasPath))) return null;
    const version = (await Deno.readTextFile(aliasPath)).trim();
    const meta = await readYaml(`${this.#modelDir(model)}/version-${version}/meta.yaml`);
    return { version, runId: String(meta.run_id ?? ""), source: String(meta.source ?? "") };
  }

  async #touchModel(model: string, timestamp: number, aliases?: Record<string, string>) {
    const path = `${this.#modelDir(model)}/meta.yaml`;
    const meta: Record<string, YamlScalar | Record<string, YamlScalar>> = (await exists(path))
      ? await readYaml(path)
      : {
        creation_timestamp: timestamp,
        deployment_job_id: null,
        deployment_job_state: null,
        description: "",
        name: model,
        workspace: "default",
      };
    meta.last_updated_timestamp = timestamp;
    if (aliases) meta.aliases = aliases;
    await writeAtomic(path, formatFlatYaml(meta));
  }

  async createModelVersion(
    model: string,
    v: { source: string; runId: string; tags: Record<string, string>; description: string },
    timestamp: number,
  ): Promise<string> {
    const dir = this.#modelDir(model);
    await this.#touchModel(model, timestamp);
    let next = 1;
    for await (const e of Deno.readDir(dir)) {
      const m = /^version-(\d+)$/.exec(e.name);
      if (m && e.isDirectory) next = Math.max(next, Number(m[1]) + 1);
    }
    const vdir = `${dir}/version-${next}`;
    await Deno.mkdir(vdir);
    for (const [k, value] of Object.entries(v.tags)) {
      await writeAtomic(`${vdir}/tags/${safeKey(k, "tag key")}`, value);
    }
    await writeAtomic(
      `${vdir}/meta.yaml`,
      formatFlatYaml({
        creation_timestamp: timestamp,
        current_stage: "None",
        deployment_job_state: null,
        description: v.description,
        last_updated_timestamp: timestamp,
        model_id: null,
        name: model,
        run_id: v.runId,
        run_link: null,
        source: v.source,
        status: "READY",
        status_message: null,
        storage_location: v.source,
        user_id: null,
        version: next,
        workspace: "default",
      }),
    );
    return String(next);
  }

  async setModelAlias(
    model: string,
    alias: string,
    version: string,
    timestamp: number,
  ): Promise<void> {
    const dir = this.#modelDir(model);
    if (!(await exists(`${dir}/version-${version}/meta.yaml`))) {
      throw new Deno.errors.NotFound(
        `Cannot set alias ${alias}: model ${model} has no version ${version} in ${this.location}`,
      );
    }
    await writeAtomic(`${dir}/aliases/${safeKey(alias, "alias")}`, version);
    const aliases: Record<string, string> = {};
    for await (const e of Deno.readDir(`${dir}/aliases`)) {
      if (e.isFile && !e.name.includes(".tmp-")) {
        aliases[e.name] = (await Deno.readTextFile(`${dir}/aliases/${e.name}`)).trim();
      }
    }
    await this.#touchModel(model, timestamp, aliases);
  }
}
