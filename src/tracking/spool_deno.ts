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
  | { kind: "update"; status: string; endTime: number };

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

/** Reads the target of a spool folder, or null when it holds no spool. */
export async function readSpoolTarget(dir: string): Promise<SpoolTarget | null> {
  try {
    return JSON.parse(await Deno.readTextFile(`${dir}/spool.json`)) as SpoolTarget;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw new SyntaxError(`Cannot read spool ${dir}/spool.json: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** A spool in folder `dir` (created on first write) for the given run. */
export function denoSpool(dir: string, target: SpoolTarget): SpoolSink {
  let counter = 0;
  const toDisk = async (r: SpoolRecord): Promise<DiskRecord> => {
    if (r.kind !== "artifact") return r;
    const file = `files/${Date.now()}-${counter++}`;
    await Deno.writeFile(`${dir}/${file}`, r.bytes);
    return { kind: "artifact", path: r.path, file };
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
      let text: string;
      try {
        text = await Deno.readTextFile(`${dir}/records.jsonl`);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return [];
        throw error;
      }
      const out: SpoolRecord[] = [];
      for (const line of text.split("\n")) {
        if (line.trim() === "") continue;
        const r = JSON.parse(line) as DiskRecord;
        if (r.kind === "artifact") {
          out.push({
            kind: "artifact",
            path: r.path,
            bytes: await Deno.readFile(`${dir}/${r.file}`),
          });
        } else if (r.kind === "batch") {
          const b = r.batch as { metrics?: { value: unknown }[] };
          const metrics = (b.metrics ?? []).map((m) => ({
            ...m,
            value: decodeMetricValue(m.value),
          }));
          out.push({ kind: "batch", batch: { ...(r.batch as object), metrics } as never });
        } else out.push(r as SpoolRecord);
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
