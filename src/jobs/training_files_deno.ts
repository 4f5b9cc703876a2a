/**
 * Deno edge of a training job: the files it leaves under its output folder (`metrics.csv`,
 * the checkpoint folders `last/` and `best/` and, as the pipeline, `last.pt` / `best.pt`), and
 * the rules that keep them one consistent record.
 *
 * - `last/` and `best/` are written atomically (`writeCheckpointDir`), and each holds the
 *   `metrics.csv` of the epochs it has seen: a checkpoint and its rows are one commit. The
 *   `.pt` of the same checkpoint follows (a temporary file and a rename).
 * - `<output>/metrics.csv` is replaced atomically right after each `last/` commit, so it
 *   never holds an epoch that `last/` lacks; a kill between the two leaves it one row
 *   behind, and resuming rewrites it from the checkpoint (`metrics.csv` always equals the
 *   checkpoint plus the new epochs, also when resuming from `best/`).
 * - A kill mid-commit leaves `last.tmp-<pid>/` or `last.old-<pid>/`; the next training in
 *   the folder finishes or rolls back that commit and removes them.
 * - A new training never silently replaces another's outputs: without `--resume-from` or
 *   `--overwrite`, a folder holding them is an error.
 *
 * @module
 */
import { writeCheckpointDir, writeFileAtomic } from "../train/checkpoint_dir_deno.ts";
import type { TrainHooks } from "../train/hooks.ts";
import { metricsCsvHeader, metricsCsvRow } from "../train/metrics_csv.ts";

/** What a training leaves in its output folder (its spool, `mlflow_spool/`, is kept). */
export const TRAINING_OUTPUTS: readonly string[] = Object.freeze([
  "metrics.csv",
  "last",
  "best",
  "last.pt",
  "best.pt",
]);

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

function writeTextAtomic(path: string, text: string): Promise<void> {
  return writeFileAtomic(path, new TextEncoder().encode(text));
}

/**
 * Finishes or rolls back a checkpoint write that a kill interrupted, for checkpoint folder
 * `dir` (e.g. `<output>/last`), and removes its leftovers (`<dir>.tmp-*`, `<dir>.old-*`).
 * When `dir` is missing but `<dir>.old-*` exists, the kill came between the two renames:
 * the new folder (`.tmp-*`, complete and synced by then) takes its place. Returns a line
 * per change.
 */
export async function recoverCheckpointDir(dir: string): Promise<string[]> {
  const slash = dir.lastIndexOf("/");
  const parent = slash < 0 ? "." : dir.slice(0, slash) || "/";
  const base = dir.slice(slash + 1);
  const tmp: string[] = [], old: string[] = [];
  try {
    for await (const e of Deno.readDir(parent)) {
      if (!e.isDirectory) continue;
      if (/^\S+\.tmp-\d+$/.test(e.name) && e.name.startsWith(`${base}.tmp-`)) {
        tmp.push(`${parent}/${e.name}`);
      }
      if (/^\S+\.old-\d+$/.test(e.name) && e.name.startsWith(`${base}.old-`)) {
        old.push(`${parent}/${e.name}`);
      }
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  const done: string[] = [];
  if (!(await exists(dir)) && old.length > 0) {
    const from = tmp.find((t) => t.endsWith(old[0].slice(old[0].lastIndexOf("-")))) ?? old[0];
    await Deno.rename(from, dir);
    done.push(
      `recovered ${dir}/ from ${from}/ (a checkpoint write was interrupted between its renames)`,
    );
  }
  for (const leftover of [...tmp, ...old]) {
    if (!(await exists(leftover))) continue;
    await Deno.remove(leftover, { recursive: true });
    done.push(`removed ${leftover}/ left by an interrupted checkpoint write`);
  }
  return done;
}

/**
 * Repairs what a killed training left in `outputDir` (see {@link recoverCheckpointDir} for
 * `last/` and `best/`; a `metrics.csv.tmp-*`, `last.pt.tmp-*` or `best.pt.tmp-*` is removed);
 * returns a line per change.
 */
export async function recoverOutputDir(outputDir: string): Promise<string[]> {
  const done = [
    ...await recoverCheckpointDir(`${outputDir}/last`),
    ...await recoverCheckpointDir(`${outputDir}/best`),
  ];
  try {
    for await (const e of Deno.readDir(outputDir)) {
      if (e.isFile && /^(metrics\.csv|last\.pt|best\.pt)\.tmp-\d+$/.test(e.name)) {
        await Deno.remove(`${outputDir}/${e.name}`);
        done.push(`removed ${outputDir}/${e.name} left by an interrupted write`);
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return done;
}

/**
 * Checks that `outputDir` may receive a training: fresh, resumed (`resumeFrom` given), or
 * `overwrite`. Throws naming the folder and both ways out when it holds another training's
 * outputs. Writes nothing.
 */
export async function checkOutputDir(
  outputDir: string,
  options: { resumeFrom: string; overwrite: boolean },
): Promise<void> {
  if (options.resumeFrom !== "" || options.overwrite) return;
  const found: string[] = [];
  for (const name of TRAINING_OUTPUTS) {
    if (await exists(`${outputDir}/${name}`)) found.push(name);
  }
  if (found.length === 0) return;
  throw new Error(
    `Cannot train into ${outputDir}: it holds another training's outputs (${
      found.join(", ")
    }); continue that training with --resume-from ${outputDir}/last, replace them with ` +
      "--overwrite, or pass another --output-dir",
  );
}

/** Removes a previous training's outputs (for `--overwrite`); returns what it removed. */
export async function removeTrainingOutputs(outputDir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of TRAINING_OUTPUTS) {
    if (!(await exists(`${outputDir}/${name}`))) continue;
    await Deno.remove(`${outputDir}/${name}`, { recursive: true });
    removed.push(name);
  }
  return removed;
}

/** Data rows (no header) of a `metrics.csv` text. */
function csvRows(text: string): string[] {
  return text.split("\n").slice(1).filter((line) => line.trim() !== "");
}

/**
 * The `metrics.csv` rows a resumed training starts from: the checkpoint's own
 * `metrics.csv`, else (a checkpoint written before they carried one) the rows of
 * `<outputDir>/metrics.csv` up to the checkpoint's epoch. `log` says which.
 */
export async function resumedCsvRows(
  checkpointFiles: Readonly<Record<string, Uint8Array>>,
  epoch: number,
  outputDir: string,
  log: (line: string) => void,
): Promise<string[]> {
  let text: string | null = null;
  try {
    text = await Deno.readTextFile(`${outputDir}/metrics.csv`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const own = checkpointFiles["metrics.csv"];
  if (own) {
    const rows = csvRows(new TextDecoder().decode(own)).slice(0, epoch);
    const before = text === null ? 0 : csvRows(text).length;
    if (before > rows.length) {
      log(
        `metrics.csv: rewritten from the checkpoint's ${rows.length} epochs (it held ${before} ` +
          "rows; the later ones belong to training after this checkpoint)",
      );
    }
    return rows;
  }
  if (text === null) return [];
  const all = csvRows(text);
  // The epoch column counts from 0, as the pipeline's: a checkpoint after `epoch` epochs
  // has the rows 0 .. epoch - 1.
  const kept = all.filter((line) => Number(line.split(",")[0]) < epoch);
  if (kept.length !== all.length) {
    log(
      `metrics.csv: kept the ${kept.length} rows up to the checkpoint's epoch ${epoch}, ` +
        `dropped ${all.length - kept.length} later ones`,
    );
  }
  return kept;
}

/**
 * The hooks that write the output folder: `last/` and `best/` (each with the `metrics.csv`
 * of its epochs) and `<outputDir>/metrics.csv`, in the commit order described above.
 * `rows` are the rows a resumed training starts from; `val_cost` is a column only
 * `withCost` (the task has a cost matrix).
 */
export function trainingFilesHooks(
  outputDir: string,
  log: (line: string) => void,
  rows: readonly string[] = [],
  withCost = true,
): TrainHooks {
  const lines = [...rows];
  const csv = () => [metricsCsvHeader(withCost), ...lines].join("\n") + "\n";
  const path = `${outputDir}/metrics.csv`;
  return {
    async onStart() {
      await writeTextAtomic(path, csv());
    },
    onEpochEnd(m) {
      lines.push(metricsCsvRow(m));
    },
    async onCheckpoint({ kind, epoch, files, pt }) {
      const text = csv();
      await writeCheckpointDir(`${outputDir}/${kind}`, {
        ...files,
        "metrics.csv": new TextEncoder().encode(text),
      });
      if (pt) await writeFileAtomic(`${outputDir}/${kind}.pt`, pt);
      if (kind === "last") await writeTextAtomic(path, text);
      const bytes = Object.values(files).reduce((a, f) => a + f.length, 0);
      log(
        `saved ${outputDir}/${kind}/${pt ? ` and ${kind}.pt` : ""} (epoch ${epoch}, ${
          (bytes / 1e6).toFixed(2)
        } MB)`,
      );
    },
  };
}
