/**
 * The on-disk spool: `<dir>/spool.json` (where it goes), `<dir>/records.jsonl` (one record
 * per line, non-finite metric values as "NaN"/"Infinity"/"-Infinity") and `<dir>/files/<n>`
 * (artifact bytes). `deno task mlflow-sync --spool <dir>` replays it.
 *
 * @module
 */
import type { SpoolRecord, SpoolSink } from "./spool.ts";

/** Where a spool's records go, written next to them. */
export interface SpoolTarget {
  /** Tracking URI without credentials. */
  trackingUri: string;
  runId: string;
  experimentId: string;
}

type DiskRecord =
  | { kind: "batch"; batch: unknown }
  | { kind: "artifact"; path: string; file: string }
  | { kind: "update"; status: string; endTime: number }
  | { kind: "inputs"; datasets: unknown }
  | { kind: "model"; model: Record<string, unknown> & { files: Record<string, string> } };

function encode(value: unknown): string {
  return JSON.stringify(value, (_k, v) => {
    if (typeof v === "number" && !Number.isFinite(v)) {
      return Number.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
    }
    return v;
  });
}

function decodeMetricValue(v: unknown): number {
  if (v === "NaN") return NaN;
  if (v === "Infinity") return Infinity;
  if (v === "-Infinity") return -Infinity;
  return Number(v);
}

/** A record part with its `metrics` values decoded ("NaN" -> NaN). */
function decodeMetrics(part: unknown): Record<string, unknown> {
  const p = part as { metrics?: { value: unknown }[] };
  const metrics = (p.metrics ?? []).map((m) => ({ ...m, value: decodeMetricValue(m.value) }));
  return { ...(part as object), metrics };
}

/**
 * Reads `file` (relative to the spool folder `dir`) only if it resolves inside that folder
 * to a regular file: a spool is data from disk, and its records must not make us read (and
 * upload) anything else, whether by `..`, an absolute path or a symlink leading out.
 * Returns null when the file does not exist.
 */
export async function readSpoolFile(dir: string, file: unknown): Promise<Uint8Array | null> {
  const refuse = (why: string) =>
    new RangeError(
      `Cannot read spool file ${JSON.stringify(file)} of ${dir}: ${why}; a spool may only ` +
        "name files inside its own folder",
    );
  if (typeof file !== "string" || file === "") throw refuse("not a file name");
  if (file.startsWith("/") || file.includes("\\") || file.split("/").includes("..")) {
    throw refuse("an absolute path or one with ..");
  }
  let root: string, real: string;
  try {
    root = await Deno.realPath(dir);
    real = await Deno.realPath(`${dir}/${file}`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  if (!real.startsWith(`${root}/`)) throw refuse(`it resolves to ${real}, outside ${root}`);
  if (!(await Deno.lstat(real)).isFile) throw refuse(`${real} is not a regular file`);
  return await Deno.readFile(real);
}

/** Reads the target of a spool folder, or null when it holds no spool. */
export async function readSpoolTarget(dir: string): Promise<SpoolTarget | null> {
  let bytes: Uint8Array | null;
  try {
    bytes = await readSpoolFile(dir, "spool.json");
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return null;
    }
    throw error;
  }
  if (bytes === null) return null;
  let target: SpoolTarget;
  try {
    target = JSON.parse(new TextDecoder().decode(bytes)) as SpoolTarget;
  } catch (error) {
    throw new SyntaxError(`Cannot read spool ${dir}/spool.json: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (
    target === null || typeof target !== "object" || typeof target.runId !== "string" ||
    !/^[0-9a-zA-Z_-]{1,64}$/.test(target.runId) || typeof target.trackingUri !== "string"
  ) {
    throw new SyntaxError(
      `Cannot read spool ${dir}/spool.json: expected {"trackingUri": "...", "runId": "..."} ` +
        "with a run id of letters, digits, _ and -",
    );
  }
  return target;
}

/** A spool in folder `dir` (created on first write) for the given run. */
export function denoSpool(dir: string, target: SpoolTarget): SpoolSink {
  let counter = 0;
  const saveFile = async (bytes: Uint8Array): Promise<string> => {
    const file = `files/${Date.now()}-${counter++}`;
    await Deno.writeFile(`${dir}/${file}`, bytes);
    return file;
  };
  const toDisk = async (r: SpoolRecord): Promise<DiskRecord> => {
    if (r.kind === "artifact") {
      return { kind: "artifact", path: r.path, file: await saveFile(r.bytes) };
    }
    if (r.kind === "model") {
      const files: Record<string, string> = {};
      for (const [path, bytes] of Object.entries(r.model.files)) {
        files[path] = await saveFile(bytes);
      }
      return { kind: "model", model: { ...r.model, files } };
    }
    return r as DiskRecord;
  };
  const readFile = async (file: unknown): Promise<Uint8Array> => {
    const bytes = await readSpoolFile(dir, file);
    if (bytes === null) {
      throw new Deno.errors.NotFound(
        `Cannot read spool file ${JSON.stringify(file)} of ${dir}: it does not exist`,
      );
    }
    return bytes;
  };
  const write = async (records: readonly SpoolRecord[], append: boolean) => {
    await Deno.mkdir(`${dir}/files`, { recursive: true });
    await Deno.writeTextFile(`${dir}/spool.json`, JSON.stringify(target, null, 2) + "\n");
    const lines: string[] = [];
    for (const r of records) lines.push(encode(await toDisk(r)));
    await Deno.writeTextFile(
      `${dir}/records.jsonl`,
      lines.map((l) => l + "\n").join(""),
      { append },
    );
  };
  return {
    async append(records) {
      if (records.length > 0) await write(records, true);
    },
    async load() {
      const records = await readSpoolFile(dir, "records.jsonl");
      if (records === null) return [];
      const out: SpoolRecord[] = [];
      for (const line of new TextDecoder().decode(records).split("\n")) {
        if (line.trim() === "") continue;
        const r = JSON.parse(line) as DiskRecord;
        if (r.kind === "artifact") {
          out.push({ kind: "artifact", path: r.path, bytes: await readFile(r.file) });
        } else if (r.kind === "batch") {
          out.push({ kind: "batch", batch: decodeMetrics(r.batch) as never });
        } else if (r.kind === "update") out.push(r as SpoolRecord);
        else if (r.kind === "inputs") out.push(r as SpoolRecord);
        else if (r.kind === "model") {
          const files: Record<string, Uint8Array> = {};
          for (const [path, file] of Object.entries(r.model.files ?? {})) {
            files[path] = await readFile(file);
          }
          out.push({ kind: "model", model: { ...decodeMetrics(r.model), files } as never });
        } else {
          throw new SyntaxError(
            `Cannot read spool ${dir}/records.jsonl: unknown record kind ` +
              `${
                JSON.stringify((r as { kind?: unknown }).kind)
              }; expected batch, artifact, update, inputs or model`,
          );
        }
      }
      return out;
    },
    async replace(records) {
      if (records.length === 0) {
        await Deno.remove(dir, { recursive: true }).catch((e) => {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        });
        return;
      }
      // Keep the artifact files that the remaining records still use: rewrite them fresh.
      const tmp = `${dir}.tmp-${Date.now()}`;
      const fresh = denoSpool(tmp, target);
      await fresh.append(records);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await Deno.rename(tmp, dir);
    },
  };
}
