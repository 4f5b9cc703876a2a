/**
 * One epoch of training steps: batches in the seeded order, one update per batch inside
 * `tf.tidy`, loss and accuracy summed on the device and read back once per log interval.
 * Private to `src/train/`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { epochBatches, gatherBatch } from "../data/batches.ts";
import { deriveSeed } from "../data/seeded_rng.ts";
import type { SequenceDataset } from "../data/sequence_dataset.ts";
import type { LstmClassifier } from "../model/classifier.ts";
import { batchTensors } from "./_batch_tensors.ts";
import { abortCheck } from "./_yield.ts";
import type { PartialEpoch } from "./checkpoint.ts";
import { clipByGlobalNorm } from "./clip_by_global_norm.ts";
import type { LoopConfig } from "./config.ts";
import type { TrainOptimizer } from "./create_optimizer.ts";
import type { TrainHooks } from "./hooks.ts";
import { classificationLoss, type LossOptions } from "./losses.ts";
import { NonFiniteLossError } from "./non_finite_loss_error.ts";

/** What one epoch of training needs besides the model, optimizer and data. */
export interface EpochContext {
  readonly loop: LoopConfig;
  readonly epoch: number;
  readonly lr: number;
  readonly loss: LossOptions;
  readonly startStep: number;
  readonly partial: PartialEpoch | null;
  readonly hooks: TrainHooks;
  readonly signal?: AbortSignal;
  readonly stepMultiple: number;
  /** Per variable: how many PyTorch parameters it stands for (clipping counts them). */
  readonly copies: readonly number[];
  readonly now: () => number;
}

/**
 * One epoch of updates. Loss and accuracy sums stay on the device and are read back once
 * per log interval (and at the end), never per step.
 */
export async function trainEpoch(
  model: LstmClassifier,
  optimizer: TrainOptimizer,
  data: SequenceDataset,
  ctx: EpochContext,
): Promise<{ interrupted: boolean; steps: number; sums: PartialEpoch }> {
  const { loop, epoch, lr } = ctx;
  const batches = epochBatches(data.labels, {
    batchSize: loop.batchSize,
    seed: loop.seed,
    epoch,
    weightedSampler: loop.weightedSampler,
    bucketLengths: loop.bucketByLength ? data.lengths : undefined,
  });
  const variables = model.namedVariables.map((v) => v.variable);
  let lossSum = tf.scalar(ctx.partial?.lossSum ?? 0);
  let correctSum = tf.scalar(ctx.partial?.correct ?? 0);
  let seen = ctx.partial?.seen ?? 0;
  const started = ctx.now();
  let reported = { step: ctx.startStep, loss: ctx.partial?.lossSum ?? 0, seen };

  const readBack = async (step: number) => {
    const [l, c] = [(await lossSum.data())[0], (await correctSum.data())[0]];
    const intervalLoss = (l - reported.loss) / Math.max(1, seen - reported.seen);
    if (!Number.isFinite(l)) {
      throw new NonFiniteLossError(
        `Cannot continue training: the loss became non-finite (${intervalLoss}) in epoch ${epoch}, ` +
          `steps ${reported.step + 1}-${step} of ${batches.length}, at lr ${lr}; ` +
          "lower the learning rate, clip gradients, or check the input data for NaN/inf after " +
          "the transform",
        { epoch, steps: [reported.step + 1, step], lr },
      );
    }
    reported = { step, loss: l, seen };
    return { l, c, intervalLoss };
  };

  let step = ctx.startStep;
  const aborted = abortCheck(ctx.signal);
  try {
    for (; step < batches.length; step++) {
      const b = gatherBatch(data, batches[step], ctx.stepMultiple);
      const next = tf.tidy(() => {
        const { x, mask, labels } = batchTensors(b);
        const dropoutSeed = deriveSeed(loop.seed, epoch, step, 0xd5);
        let correct: tf.Scalar | undefined;
        const { value, grads } = tf.variableGrads(() => {
          const logits = model.apply(x, mask, { training: true, dropoutSeed });
          correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), "float32")));
          return classificationLoss(logits, labels, ctx.loss);
        }, variables);
        let g = variables.map((v) => grads[v.name]);
        if (loop.gradClip > 0) g = clipByGlobalNorm(g, loop.gradClip, ctx.copies).grads;
        optimizer.applyGradients(g, lr);
        const sums = [tf.add(lossSum, tf.mul(value, b.size)), tf.add(correctSum, correct!)];
        correct!.dispose();
        return sums as tf.Scalar[];
      });
      lossSum.dispose();
      correctSum.dispose();
      [lossSum, correctSum] = next;
      seen += b.size;
      const done = step + 1;
      const interrupted = await aborted();
      if (done % loop.logInterval === 0 || done === batches.length || interrupted) {
        const { l, c, intervalLoss } = await readBack(done);
        await ctx.hooks.onStep?.({
          epoch,
          step: done,
          stepsPerEpoch: batches.length,
          loss: intervalLoss,
          elapsedSeconds: (ctx.now() - started) / 1000,
        });
        if (interrupted) {
          return { interrupted, steps: done, sums: { lossSum: l, correct: c, seen } };
        }
        if (done === batches.length) {
          return { interrupted, steps: done, sums: { lossSum: l, correct: c, seen } };
        }
      }
    }
    const { l, c } = await readBack(step);
    return { interrupted: false, steps: step, sums: { lossSum: l, correct: c, seen } };
  } finally {
    lossSum.dispose();
    correctSum.dispose();
  }
}
