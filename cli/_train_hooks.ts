/**
 * The CLI's training subscriber: console progress with ETA and one line per epoch.
 *
 * @module
 */
import type { EpochMetrics, StepProgress, TrainHooks } from "../src/train/hooks.ts";

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
        `epoch ${m.epoch + 1}/${options.epochs} train_loss ${m.train_loss.toFixed(4)} ` +
          `train_acc ${m.train_acc.toFixed(4)} ` +
          (m.validated === false ? "(no validation) " : `val_loss ${m.val_loss.toFixed(4)} ` +
            `val_acc ${m.val_acc.toFixed(4)} val_macro_f1 ${m.val_macro_f1.toFixed(4)} ` +
            `${m.val_cost === undefined ? "" : `val_cost ${m.val_cost} `}`) +
          `lr ${m.lr} | train ${trainSeconds.toFixed(1)} s${perStep}, ` +
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
