/**
 * The CLI's training subscribers: console progress, `metrics.csv` and checkpoint folders.
 *
 * @module
 */
import type { EpochMetrics, StepProgress, TrainHooks } from "../src/train/hooks.ts";
import { writeCheckpointDir } from "../src/train/checkpoint_dir_deno.ts";
import { metricsCsvHeader, metricsCsvRow } from "../src/train/metrics_csv.ts";

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = String(m).padStart(2, "0"), ss = String(r).padStart(2, "0");
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/**
 * Progress with ETA while an epoch runs (on a TTY the line is rewritten; otherwise one line
 * per log interval) and one summary line per epoch.
 */
export function consoleHooks(options: { isTerminal: boolean; epochs: number }): TrainHooks {
  const encoder = new TextEncoder();
  let last: { epoch: number; step: number; elapsed: number } | null = null;
  let trainSeconds = 0, trainSteps = 0, inLine = false;
  const endLine = () => {
    if (inLine) Deno.stdout.writeSync(encoder.encode("\n"));
    inLine = false;
  };
  return {
    onStart({ stepsPerEpoch, startEpoch }) {
      console.log(
        `training epochs ${startEpoch}..${options.epochs}, ${stepsPerEpoch} steps per epoch`,
      );
    },
    onStep(p: StepProgress) {
      const prev = last && last.epoch === p.epoch ? last : null;
      // Rate from the last interval (excludes the first interval's shader compiles when it can).
      const rate = prev && p.step > prev.step
        ? (p.elapsedSeconds - prev.elapsed) / (p.step - prev.step)
        : p.elapsedSeconds / Math.max(1, p.step);
      trainSteps = p.step;
      trainSeconds = p.elapsedSeconds;
      last = { epoch: p.epoch, step: p.step, elapsed: p.elapsedSeconds };
      const pct = ((100 * p.step) / p.stepsPerEpoch).toFixed(0).padStart(3);
      const line = `epoch ${p.epoch}/${options.epochs} step ${p.step}/${p.stepsPerEpoch} ${pct}% ` +
        `loss ${p.loss.toFixed(4)} | ${(rate * 1000).toFixed(0)} ms/step | ` +
        `elapsed ${clock(p.elapsedSeconds)} ETA ${clock(rate * (p.stepsPerEpoch - p.step))}`;
      if (options.isTerminal) {
        Deno.stdout.writeSync(encoder.encode(`\r\x1b[2K${line}`));
        inLine = true;
      } else {
        console.log(line);
      }
    },
    onEpochEnd(m: EpochMetrics, { isBest }) {
      endLine();
      const perStep = trainSteps > 0
        ? ` (${((trainSeconds * 1000) / trainSteps).toFixed(0)} ms/step)`
        : "";
      console.log(
        `epoch ${m.epoch}/${options.epochs} train_loss ${m.train_loss.toFixed(4)} ` +
          `train_acc ${m.train_acc.toFixed(4)} val_loss ${m.val_loss.toFixed(4)} ` +
          `val_acc ${m.val_acc.toFixed(4)} val_macro_f1 ${m.val_macro_f1.toFixed(4)} ` +
          `val_cost ${m.val_cost} lr ${m.lr} | train ${trainSeconds.toFixed(1)} s${perStep}, ` +
          `epoch ${m.epoch_seconds.toFixed(1)} s${isBest ? " | best so far" : ""}`,
      );
    },
    onEnd({ status, bestValF1, error }) {
      endLine();
      const best = bestValF1 >= 0 ? bestValF1.toFixed(4) : "n/a";
      console.log(
        `run ${status}; best val_macro_f1 ${best}${error ? ` (${(error as Error).message})` : ""}`,
      );
    },
  };
}

/**
 * Writes `<outputDir>/metrics.csv`: a fresh file with the header, or, when the run resumes
 * (start epoch > 1) and the file exists, appends to it.
 */
export function metricsCsvHooks(outputDir: string): TrainHooks {
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
      await Deno.writeTextFile(path, metricsCsvHeader() + "\n");
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
