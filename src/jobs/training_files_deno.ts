/**
 * Deno edge of a training job: the files it leaves under its output folder, as training
 * hooks: `metrics.csv` (one row per epoch) and the checkpoint folders `last/` and `best/`.
 *
 * @module
 */
import { writeCheckpointDir } from "../train/checkpoint_dir_deno.ts";
import type { TrainHooks } from "../train/hooks.ts";
import { metricsCsvHeader, metricsCsvRow } from "../train/metrics_csv.ts";

/**
 * Writes `<outputDir>/metrics.csv`: a fresh file with the header, or, when the run resumes
 * (start epoch > 1) and the file exists, appends to it. `val_cost` is a column only
 * `withCost` (the task has a cost matrix).
 */
export function metricsCsvHooks(outputDir: string, withCost = true): TrainHooks {
  const path = `${outputDir}/metrics.csv`;
  return {
    async onStart({ startEpoch }) {
      let exists = false;
      try {
        exists = (await Deno.stat(path)).isFile;
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
      if (startEpoch > 1 && exists) return;
      await Deno.writeTextFile(path, metricsCsvHeader(withCost) + "\n");
    },
    async onEpochEnd(m) {
      await Deno.writeTextFile(path, metricsCsvRow(m) + "\n", { append: true });
    },
  };
}

/** Writes each checkpoint as `<outputDir>/last/` or `<outputDir>/best/`, atomically. */
export function checkpointDirHooks(outputDir: string, log: (line: string) => void): TrainHooks {
  return {
    async onCheckpoint({ kind, epoch, files }) {
      await writeCheckpointDir(`${outputDir}/${kind}`, files);
      const bytes = Object.values(files).reduce((a, f) => a + f.length, 0);
      log(`saved ${outputDir}/${kind}/ (epoch ${epoch}, ${(bytes / 1e6).toFixed(2)} MB)`);
    },
  };
}
