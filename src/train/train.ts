/**
 * The training loop: reads top to bottom; numbers and bytes leave through hooks.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { epochBatches, gatherBatch } from "../data/batches.ts";
import { classCounts, classWeights } from "../data/class_weights.ts";
import { deriveSeed } from "../data/seeded_rng.ts";
import type { SequenceDataset, SequenceKeys } from "../data/sequence_dataset.ts";
import { type Task, taskToJson } from "../metrics/task.ts";
import {
  createLstmClassifier,
  type LstmClassifier,
  type ModelConfig,
} from "../model/classifier.ts";
import { type ModelSettings, poolingReadsPadding } from "../model/model_settings.ts";
import { exportTorchStateDict } from "../model/safetensors.ts";
import type { PipelineCheckpoint } from "../torch/pipeline_checkpoint.ts";
import { writePipelineCheckpoint } from "../torch/pipeline_checkpoint.ts";
import { batchTensors } from "./_batch_tensors.ts";
import {
  assignCheckpointWeights,
  type BestSoFar,
  type CheckpointRunRef,
  type HostTensor,
  type PartialEpoch,
  readCheckpoint,
  type TrainingCheckpoint,
  writeCheckpoint,
} from "./checkpoint.ts";
import { clipByGlobalNorm } from "./clip_by_global_norm.ts";
import { createOptimizer, type TrainOptimizer } from "./create_optimizer.ts";
import type { LoopConfig, TrainConfig } from "./config.ts";
import { PredictionAbortedError, validate } from "./validate.ts";
import { abortCheck } from "./_yield.ts";
import { isBetterCheckpoint, metricOf } from "./best_checkpoint.ts";
import { resolveTaskData } from "./task_data.ts";
import type { EpochMetrics, RunStatus, TrainHooks } from "./hooks.ts";
import { classificationLoss, type LossOptions } from "./losses.ts";
import { learningRateAt } from "./step_lr.ts";
import {
  optimizedVariables,
  pipelineArgs,
  resumeFromPipeline,
  toPipelineCheckpoint,
} from "./torch_checkpoint.ts";

/** Focal loss exponent used by `--focal-loss` (data contract). */
export const FOCAL_GAMMA = 2;

/** The data `train()` fits: already transformed (see `transformFeatures`). */
export interface TrainData {
  readonly train: SequenceDataset;
  /**
   * Absent = no validation, as the pipeline without `--val-npz`: the val metrics are NaN
   * (empty in `metrics.csv`), no epoch is "best", early stopping is off.
   */
  readonly val?: SequenceDataset;
  /** The feature stats used, copied into every checkpoint as `feature_stats.json`. */
  readonly featureStatsJson?: string;
  /** The npz members the data was read from, recorded in every checkpoint. */
  readonly keys?: SequenceKeys;
  /**
   * The task: K = its number of class names, its cost matrix gives `val_cost`, its
   * promotion metric picks the best checkpoint. Default: `defaultTask` of the data's K
   * (the larger of train's and val's).
   */
  readonly task?: Task;
}

/** Options of {@link train}. */
export interface TrainOptions {
  /**
   * Abort = finish the current step (or validation batch), emit the `last` checkpoint, end
   * with status KILLED. The loop lets the event loop run every ~100 ms to notice it.
   */
  readonly signal?: AbortSignal;
  /** Checkpoint files to resume from (`readCheckpoint` input). */
  readonly resume?: Readonly<Record<string, Uint8Array>>;
  /**
   * A PyTorch pipeline checkpoint (`last.pt`) to resume from instead: its weights, AdamW
   * moments and step, StepLR rate and epoch. Its `args` are not read here (the job merges
   * them into the config).
   */
  readonly resumePipeline?: PipelineCheckpoint;
  /** Progress notes (e.g. where a pipeline checkpoint could not be taken over exactly). */
  readonly log?: (line: string) => void;
  /**
   * The run's settings beside the model and loop (paths, device, MLflow flags, camelCase as
   * in `RunSpec`) for the `args` of the `.pt` checkpoints; the tracking URI is never written.
   */
  readonly runArgs?: object;
  /** Round trimmed windows up to a multiple of this (fewer distinct shapes on WebGPU). */
  readonly stepMultiple?: number;
  /** Clock in milliseconds; default `performance.now`. */
  readonly now?: () => number;
  /** The MLflow run this training logs to, recorded in every checkpoint. */
  readonly run?: CheckpointRunRef;
}

/** The loss became NaN or infinite: training stops, naming where and at which learning rate. */
export class NonFiniteLossError extends RangeError {
  /** 1-based epoch. */
  readonly epoch: number;
  /** First and last step (1-based) of the interval whose loss was read back. */
  readonly steps: readonly [number, number];
  /** The learning rate of the epoch. */
  readonly lr: number;

  /** Builds the error; the message names the epoch, steps and learning rate. */
  constructor(
    message: string,
    details: { epoch: number; steps: readonly [number, number]; lr: number },
  ) {
    super(message);
    this.name = "NonFiniteLossError";
    this.epoch = details.epoch;
    this.steps = details.steps;
    this.lr = details.lr;
  }
}

/** How {@link train} ended. */
export interface TrainResult {
  readonly status: RunStatus;
  /** Val macro-F1 of the best checkpoint (-1 when nothing was validated). */
  readonly bestValF1: number;
  /** The best checkpoint by the task's promotion metric; null when nothing was validated. */
  readonly best: BestSoFar | null;
  /** The task trained for (given, or the default of the data's K). */
  readonly task: Task;
  /** Epoch metrics of this call (not of earlier, resumed-from runs). */
  readonly history: EpochMetrics[];
}

/** The model's architecture: the chosen settings plus the data's shapes. */
export function modelConfigFor(model: ModelSettings, data: SequenceDataset): ModelConfig {
  return {
    inputSize: data.features,
    hiddenSize: model.hiddenSize,
    numLayers: model.numLayers,
    bidirectional: model.bidirectional,
    dropout: model.dropout,
    pooling: model.pooling,
    numClasses: data.numClasses,
    lstmImpl: model.lstmImpl,
  };
}

/**
 * Trains the classifier of `config.model` on `data` with `config.loop`'s settings.
 * Shuffling depends on (seed, epoch) and every dropout mask on (seed, epoch, step), so a
 * run resumed from any checkpoint ends with the same metrics as an uninterrupted one.
 * Throws {@link NonFiniteLossError} on a non-finite loss after reporting status FAILED to
 * the hooks.
 */
export async function train(
  config: TrainConfig,
  data: TrainData,
  hooks: TrainHooks = {},
  options: TrainOptions = {},
): Promise<TrainResult> {
  if (data.val && data.val.features !== data.train.features) {
    throw new RangeError(
      `Cannot train: the validation data has ${data.val.features} features per step but the ` +
        `training data has ${data.train.features}; pass validation data from the same pipeline`,
    );
  }
  const loop = config.loop;
  const now = options.now ?? (() => performance.now());
  const resumed = options.resume ? readCheckpoint(options.resume) : null;
  const { task, train: trainSet, val: valSet } = resolveTaskData(data);
  const modelConfig = modelConfigFor(config.model, trainSet);
  // The pipeline's poolings run the LSTM over the padding: windows are never trimmed.
  const stepMultiple = poolingReadsPadding(modelConfig.pooling)
    ? trainSet.steps
    : options.stepMultiple ?? 1;
  if (resumed && JSON.stringify(resumed.modelConfig) !== JSON.stringify(modelConfig)) {
    throw new RangeError(
      `Cannot resume: the checkpoint's model ${JSON.stringify(resumed.modelConfig)} differs from ` +
        `this run's ${
          JSON.stringify(modelConfig)
        }; use the same model settings as the original run`,
    );
  }
  if (
    resumed?.task && JSON.stringify(taskToJson(resumed.task)) !== JSON.stringify(taskToJson(task))
  ) {
    throw new RangeError(
      `Cannot resume: the checkpoint's task ${JSON.stringify(taskToJson(resumed.task))} ` +
        `differs from this run's ${JSON.stringify(taskToJson(task))}; pass the same --task`,
    );
  }
  const model = createLstmClassifier(modelConfig, { seed: loop.seed });
  // Fused WebGPU AdamW on webgpu, tf-op AdamW elsewhere; same checkpoint state either way.
  const variables = optimizedVariables(model);
  const optimizer = createOptimizer(variables, { weightDecay: loop.weightDecay });
  // As the pipeline: --focal-loss wins over --weighted-loss (the focal loss is unweighted).
  const weights = loop.weightedLoss && !loop.focalLoss
    ? classWeights(classCounts(trainSet.labels, trainSet.numClasses))
    : undefined;
  const weightTensor = weights ? tf.keep(tf.tensor1d(weights, "float32")) : undefined;
  const loss: LossOptions = {
    classWeights: weightTensor,
    focalGamma: loop.focalLoss ? FOCAL_GAMMA : 0,
  };
  const stepsPerEpoch = Math.ceil(trainSet.size / loop.batchSize);
  let startEpoch = resumed ? resumed.epoch + 1 : 1;
  let startStep = resumed?.stepInEpoch ?? 0;
  let partial: PartialEpoch | null = resumed?.partial ?? null;
  let bestValF1 = resumed?.bestValF1 ?? -1;
  // Older checkpoints know only the best val macro-F1 (no loss to break ties with).
  let best: BestSoFar | null = resumed?.best ??
    (resumed && resumed.bestValF1 >= 0 && task.promotionMetric === "val_macro_f1"
      ? {
        metric: "val_macro_f1",
        value: resumed.bestValF1,
        valLoss: Number.MAX_VALUE, // JSON has no Infinity; any real loss is lower
        epoch: resumed.epoch,
      }
      : null);
  let temperature: number | null = resumed?.temperature ?? null;
  let stale = resumed?.epochsWithoutImprovement ?? 0;
  // The schedule continues from the saved rate of the first epoch to run (as StepLR does).
  let lrFrom = resumed?.schedule ? { epoch: startEpoch, lr: resumed.schedule.lr } : undefined;
  const history: EpochMetrics[] = [];
  try {
    if (resumed) {
      assignCheckpointWeights(model, resumed);
      if (resumed.optimizer) optimizer.setState(resumed.optimizer);
    } else if (options.resumePipeline) {
      const pt = resumeFromPipeline(model, options.resumePipeline);
      for (const note of pt.notes) options.log?.(`note: ${note}`);
      if (pt.optimizer) optimizer.setState(pt.optimizer);
      startEpoch = pt.epoch + 1;
      bestValF1 = pt.bestValF1;
      // The pipeline's best is by val macro-F1 (no loss to break ties with).
      if (pt.bestValF1 >= 0 && task.promotionMetric === "val_macro_f1") {
        best = {
          metric: "val_macro_f1",
          value: pt.bestValF1,
          valLoss: Number.MAX_VALUE,
          epoch: pt.epoch,
        };
      }
      if (pt.nextLr !== null) lrFrom = { epoch: startEpoch, lr: pt.nextLr };
    }
  } catch (error) {
    model.dispose();
    optimizer.dispose();
    weightTensor?.dispose();
    throw error;
  }
  const lrAt = (epoch: number) => learningRateAt(epoch, loop, lrFrom);
  const args = pipelineArgs(config.model, loop, options.runArgs);
  const copies = variables.map((v) => v.copies ?? 1);

  const snapshot = async (
    kind: "last" | "best",
    epoch: number,
    stepInEpoch: number,
    lr: number,
    part: PartialEpoch | null,
  ) => {
    const hostWeights: Record<string, HostTensor> = {};
    for (const { name, variable } of model.namedVariables) {
      hostWeights[name] = { shape: variable.shape, data: (await variable.data()) as Float32Array };
    }
    const checkpoint: TrainingCheckpoint = {
      epoch,
      stepInEpoch,
      partial: part,
      bestValF1,
      best,
      epochsWithoutImprovement: stale,
      modelConfig,
      loop,
      task,
      temperature,
      dataKeys: data.keys ?? null,
      run: options.run ?? null,
      rng: {
        algorithm: "mulberry32",
        state: deriveSeed(loop.seed, epoch + 1, stepInEpoch),
        seed: loop.seed,
        epoch: epoch + 1,
        step: stepInEpoch,
      },
      schedule: { lr, stepSize: loop.stepLrStepSize, gamma: loop.stepLrGamma },
      weights: hostWeights,
      optimizer: await optimizer.getState(),
    };
    const files = writeCheckpoint(checkpoint);
    files["model.safetensors"] = await exportTorchStateDict(model);
    if (data.featureStatsJson) {
      files["feature_stats.json"] = new TextEncoder().encode(data.featureStatsJson);
    }
    // The pipeline's .pt marks epoch boundaries only; a Ctrl-C snapshot keeps the last one.
    const pt = stepInEpoch === 0 && checkpoint.optimizer
      ? writePipelineCheckpoint(
        await toPipelineCheckpoint(model, {
          epoch,
          bestValF1: bestValF1 >= 0 ? bestValF1 : null,
          nextLr: lr,
          optimizer: checkpoint.optimizer,
          loop,
          args,
        }),
        { archiveName: kind },
      )
      : undefined;
    await hooks.onCheckpoint?.({ kind, epoch, files, ...(pt ? { pt } : {}) });
  };

  let status: RunStatus = "FINISHED";
  try {
    await hooks.onStart?.({ config, stepsPerEpoch, startEpoch });
    for (let epoch = startEpoch; epoch <= loop.epochs; epoch++) {
      const lr = lrAt(epoch);
      const started = now();
      const run = await trainEpoch(model, optimizer, trainSet, {
        loop,
        epoch,
        lr,
        loss,
        startStep,
        partial,
        hooks,
        signal: options.signal,
        stepMultiple,
        copies,
        now,
      });
      startStep = 0;
      partial = null;
      if (run.interrupted) {
        // Ctrl-C: save where we are inside the epoch so --resume-from continues exactly.
        await snapshot("last", epoch - 1, run.steps, lr, run.sums);
        status = "KILLED";
        break;
      }
      let val = null;
      try {
        val = valSet
          ? await validate(model, valSet, {
            batchSize: loop.batchSize,
            classWeights: weights,
            focalGamma: loss.focalGamma,
            stepMultiple: options.stepMultiple,
            costMatrix: task.costMatrix,
            signal: options.signal,
          })
          : null;
      } catch (error) {
        if (!(error instanceof PredictionAbortedError)) throw error;
        // Ctrl-C during validation: the epoch's steps are done; resuming validates it.
        await snapshot("last", epoch - 1, run.steps, lr, run.sums);
        status = "KILLED";
        break;
      }
      if (val) temperature = val.calibration?.temperature ?? temperature;
      const metric = task.promotionMetric;
      const candidate = val
        ? { metric, value: metricOf(val, metric), valLoss: val.loss, epoch }
        : null;
      const isBest = candidate !== null && isBetterCheckpoint(candidate, best);
      if (isBest) {
        best = candidate;
        bestValF1 = val!.macroF1;
      }
      stale = isBest ? 0 : stale + 1;
      const nextLr = lrAt(epoch + 1);
      // As the pipeline: the epoch counts from 0, lr is the rate after scheduler.step().
      const metrics: EpochMetrics = {
        epoch: epoch - 1,
        train_loss: run.sums.lossSum / run.sums.seen,
        train_acc: run.sums.correct / run.sums.seen,
        val_loss: val?.loss ?? NaN,
        val_acc: val?.accuracy ?? NaN,
        val_macro_f1: val?.macroF1 ?? NaN,
        lr: nextLr,
        ...(val === null
          ? (task.costMatrix ? { val_cost: NaN } : {})
          : val.cost === null
          ? {}
          : { val_cost: val.cost }),
        epoch_seconds: (now() - started) / 1000,
        ...(val ? {} : { validated: false }),
      };
      history.push(metrics);
      await hooks.onEpochEnd?.(metrics, { isBest });
      await snapshot("last", epoch, 0, nextLr, null);
      if (isBest) await snapshot("best", epoch, 0, nextLr, null);
      if (val && loop.patience > 0 && stale >= loop.patience) break; // early stopping
    }
  } catch (error) {
    await hooks.onEnd?.({ status: "FAILED", bestValF1, error });
    throw error;
  } finally {
    model.dispose();
    optimizer.dispose();
    weightTensor?.dispose();
  }
  await hooks.onEnd?.({ status, bestValF1 });
  return { status, bestValF1, best, task, history };
}

interface EpochContext {
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
async function trainEpoch(
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
