/**
 * The experiments part of `FileStore`: `<mlruns>/<id>/meta.yaml` and `<id>/tags/<key>`,
 * the Default experiment (id 0) made once like MLflow does, lookup by id or name, creation
 * with a name-derived id, and deletion by a move to `.trash/`.
 *
 * @module
 */
import {
  checkLoggedValue,
  experimentIdForName,
  fileUri,
  randomExperimentId,
  readKeyedFiles,
} from "./_file_store_format.ts";
import { readYamlFile, writeYamlFile } from "./_yaml.ts";
import type { FileSystemAdapter } from "./file_system.ts";
import type { MlflowExperiment } from "./tracking_store.ts";

const encoder = new TextEncoder();
const RESERVED = new Set([".trash", "models"]);

/** The experiment folders of one `mlruns` folder. */
export class FileExperiments {
  readonly root: string;
  readonly #fs: FileSystemAdapter;
  readonly #clock: () => number;
  #ready: Promise<void> | null = null;

  /** The experiments under `root` (absolute, no trailing `/`). */
  constructor(fs: FileSystemAdapter, root: string, clock: () => number) {
    this.#fs = fs;
    this.root = root;
    this.#clock = clock;
  }

  /** Creates the root and the Default experiment (id 0) like MLflow does, once. */
  init(): Promise<void> {
    this.#ready ??= (async () => {
      if (await this.#fs.readFile(`${this.root}/0/meta.yaml`) !== null) return;
      const entries = await this.#fs.readDir(this.root);
      if (entries !== null && entries.some((e) => e.name === "0")) return;
      await this.#writeMeta("0", "Default", this.#clock());
    })();
    return this.#ready;
  }

  async #writeMeta(id: string, name: string, now: number): Promise<void> {
    await this.#fs.mkdir(`${this.root}/${id}`);
    await writeYamlFile(this.#fs, `${this.root}/${id}/meta.yaml`, {
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

  /** The folder names of the active experiments. */
  async ids(): Promise<string[]> {
    const entries = (await this.#fs.readDir(this.root)) ?? [];
    return entries.filter((e) => e.isDirectory && !RESERVED.has(e.name)).map((e) => e.name);
  }

  /** Prepares the store; the folders of the active and deleted experiments (`.trash/<id>`). */
  async dirs(): Promise<string[]> {
    await this.init();
    const trash = ((await this.#fs.readDir(`${this.root}/.trash`)) ?? []).map((e) =>
      `.trash/${e.name}`
    );
    return [...await this.ids(), ...trash];
  }

  /** The experiment's `artifact_location`, or null when there is no such active experiment. */
  async activeArtifactLocation(id: string): Promise<string | null> {
    await this.init();
    const exp = /^[\w-]+$/.test(id) ? await this.read(id) : null;
    return exp === null || exp.lifecycleStage !== "active" ? null : exp.artifactLocation;
  }

  /** The experiment in folder `dir` (relative to the root: `<id>` or `.trash/<id>`). */
  async read(dir: string): Promise<MlflowExperiment | null> {
    const meta = await readYamlFile(this.#fs, `${this.root}/${dir}/meta.yaml`);
    if (meta === null) return null;
    return {
      experimentId: String(meta.experiment_id ?? dir.split("/").pop()),
      name: String(meta.name),
      artifactLocation: String(meta.artifact_location ?? ""),
      lifecycleStage: dir.startsWith(".trash/")
        ? "deleted"
        : String(meta.lifecycle_stage ?? "active"),
      tags: Object.fromEntries(await readKeyedFiles(this.#fs, `${this.root}/${dir}/tags`)),
    };
  }

  async getByName(name: string): Promise<MlflowExperiment | null> {
    await this.init();
    for (const id of await this.ids()) {
      const exp = await this.read(id);
      if (exp?.name === name) return exp;
    }
    for (const e of (await this.#fs.readDir(`${this.root}/.trash`)) ?? []) {
      const exp = await this.read(`.trash/${e.name}`);
      if (exp?.name === name) return exp;
    }
    return null;
  }

  async get(experimentId: string): Promise<MlflowExperiment | null> {
    await this.init();
    if (!/^[\w-]+$/.test(experimentId)) return null;
    return await this.read(experimentId) ?? await this.read(`.trash/${experimentId}`);
  }

  /** Every active experiment of this folder. */
  async list(): Promise<MlflowExperiment[]> {
    await this.init();
    const out: MlflowExperiment[] = [];
    for (const id of await this.ids()) {
      const exp = await this.read(id);
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
  async create(name: string, tags: Readonly<Record<string, string>> = {}): Promise<string> {
    await this.init();
    if (name.trim() === "") {
      throw new TypeError(`Cannot create experiment: the name is empty; pass a non-empty name`);
    }
    const exists = () =>
      new RangeError(
        `Cannot create experiment "${name}" in ${this.root}: an experiment with that name exists`,
      );
    if (await this.getByName(name) !== null) throw exists();
    for (const [key, value] of Object.entries(tags)) checkLoggedValue("tag", key, value);
    const create = async (id: string) => {
      await this.#writeMeta(id, name, this.#clock());
      for (const [key, value] of Object.entries(tags)) {
        await this.#fs.writeFile(`${this.root}/${id}/tags/${key}`, encoder.encode(value));
      }
      return id;
    };
    const id = await experimentIdForName(name);
    if (await this.#fs.mkdir(`${this.root}/${id}`)) return await create(id);
    // Another process made the folder: it is writing meta.yaml (wait for it), or it died.
    let other = await this.read(id);
    for (let waited = 0; other === null && waited < 5000; waited += 50) {
      await new Promise((r) => setTimeout(r, 50));
      other = await this.read(id);
    }
    if (other === null) return await create(id); // left half-made by a crash: finish it
    if (other.name === name) throw exists();
    // Two names with one derived id (never seen in practice): a random id, as MLflow does.
    const existing = new Set(await this.ids());
    let random = randomExperimentId();
    while (existing.has(random)) random = randomExperimentId();
    return await create(random);
  }

  /** Moves the experiment to `.trash/` marked deleted, as MLflow does. */
  async delete(experimentId: string): Promise<void> {
    const exp = await this.get(experimentId);
    if (exp === null || experimentId === "0") {
      throw new RangeError(
        `Cannot delete experiment ${experimentId}: ${
          exp === null ? `it does not exist in ${this.root}` : "it is the Default experiment"
        }`,
      );
    }
    const meta = (await readYamlFile(this.#fs, `${this.root}/${experimentId}/meta.yaml`))!;
    await writeYamlFile(this.#fs, `${this.root}/${experimentId}/meta.yaml`, {
      ...meta,
      lifecycle_stage: "deleted",
      last_update_time: this.#clock(),
    });
    await this.#fs.rename(`${this.root}/${experimentId}`, `${this.root}/.trash/${experimentId}`);
  }
}
