/**
 * A run's data files in the file store, in MLflow's layout: `params/<key>` (immutable once
 * logged), `tags/<key>` and `metrics/<key>` (one `<timestamp> <value> <step>` line appended
 * per value), written by log-batch and read back as a run's data or a metric's history.
 *
 * @module
 */
import {
  checkLoggedValue,
  latestMetric,
  metricLines,
  parseMetricLines,
  readKeyedFiles,
} from "./_file_store_format.ts";
import type { FileSystemAdapter } from "./file_system.ts";
import {
  type MlflowBatch,
  type MlflowMetric,
  type MlflowRun,
  validateMlflowKey,
} from "./tracking_store.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Writes one batch into the run folder `dir`; a param logged again must keep its value. */
export async function writeRunBatch(
  fs: FileSystemAdapter,
  dir: string,
  runId: string,
  batch: MlflowBatch,
): Promise<void> {
  for (const [key, value] of Object.entries(batch.params ?? {})) {
    checkLoggedValue("param", key, value);
    const path = `${dir}/params/${key}`;
    const old = await fs.readFile(path);
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
    await fs.writeFile(path, encoder.encode(value));
  }
  for (const [key, value] of Object.entries(batch.tags ?? {})) {
    checkLoggedValue("tag", key, value);
    await fs.writeFile(`${dir}/tags/${key}`, encoder.encode(value));
  }
  for (const [key, text] of metricLines(batch.metrics ?? [])) {
    await fs.writeFile(`${dir}/metrics/${key}`, encoder.encode(text), { append: true });
  }
}

/** The params, tags and latest value of each metric of the run folder `dir`. */
export async function readRunData(
  fs: FileSystemAdapter,
  dir: string,
): Promise<Pick<MlflowRun, "params" | "tags" | "metrics">> {
  const params = Object.fromEntries(await readKeyedFiles(fs, `${dir}/params`));
  const tags = Object.fromEntries(await readKeyedFiles(fs, `${dir}/tags`));
  const metrics: Record<string, number> = {};
  for (const [key, text] of await readKeyedFiles(fs, `${dir}/metrics`)) {
    const latest = latestMetric(parseMetricLines(key, text));
    if (latest !== null) metrics[key] = latest.value;
  }
  return { params, tags, metrics };
}

/** Every logged value of metric `key` of the run folder `dir` (none when never logged). */
export async function readMetricHistory(
  fs: FileSystemAdapter,
  dir: string,
  key: string,
): Promise<MlflowMetric[]> {
  validateMlflowKey("metric", key);
  const bytes = await fs.readFile(`${dir}/metrics/${key}`);
  return bytes === null ? [] : parseMetricLines(key, decoder.decode(bytes));
}
