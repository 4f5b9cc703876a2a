/**
 * The training loop: reads top to bottom; numbers and bytes leave through hooks.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { classCounts, classWeights } from "../data/class_weights.ts";
import type { SequenceDataset, SequenceKeys } from "../data/sequence_dataset.ts";
import type { Task } from "../metrics/task.ts";
import { createLstmClassifier, type ModelConfig } from "../model/classifier.ts";
import { type ModelSettings, poolingReadsPadding } from "../model/model_settings.ts";
import type { PipelineCheckpoint } from "../torch/pipeline_checkpoint.ts";
import { epochMetrics } from "./_epoch_metrics.ts";
import { checkResumable, restoreStartPoint, type StartPoint } from "./_resume.ts";
import { checkpointSnapshot, type SnapshotSource } from "./_snapshot.ts";
import { trainEpoch } from "./_train_epoch.ts";
import { validateEpoch } from "./_validate_epoch.ts";
import {
  type BestSoFar,
  type CheckpointRunRef,
  type PartialEpoch,
  readCheckpoint,
} from "./checkpoint.ts";
import { createOptimizer } from "./create_optimizer.ts";
import type { TrainConfig } from "./config.ts";
import { isBetterCheckpoint, metricOf } from "./best_checkpoint.ts";
import { resolveTaskData } from "./task_data.ts";
import type { EpochMetrics, RunStatus, TrainHooks } from "./hooks.ts";
import type { LossOptions } from "./losses.ts";
import { learningRateAt } from "./step_lr.ts";
import { optimizedVariables, pipelineArgs } from "./torch_checkpoint.ts";

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
  checkResumable(resumed, modelConfig, task);
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
  let start: StartPoint;
  try {
    start = restoreStartPoint(model, optimizer, task, resumed, options.resumePipeline, options.log);
  } catch (error) {
    model.dispose();
    optimizer.dispose();
    weightTensor?.dispose();
    throw error;
  }
  const { startEpoch, lrFrom } = start;
  let { startStep, partial, bestValF1, best, temperature, stale } = start;
  const history: EpochMetrics[] = [];
  const lrAt = (epoch: number) => learningRateAt(epoch, loop, lrFrom);
  const args = pipelineArgs(config.model, loop, options.runArgs);
  const copies = variables.map((v) => v.copies ?? 1);
  const source: SnapshotSource = {
    model,
    optimizer,
    modelConfig,
    loop,
    task,
    dataKeys: data.keys ?? null,
    featureStatsJson: data.featureStatsJson,
    run: options.run ?? null,
    args,
  };
  const snapshot = async (
    kind: "last" | "best",
    epoch: number,
    stepInEpoch: number,
    lr: number,
    part: PartialEpoch | null,
  ) => {
    const checkpoint = await checkpointSnapshot(source, {
      kind,
      epoch,
      stepInEpoch,
      lr,
      partial: part,
      bestValF1,
      best,
      epochsWithoutImprovement: stale,
      temperature,
    });
    await hooks.onCheckpoint?.(checkpoint);
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
      const val = await validateEpoch(model, valSet, {
        batchSize: loop.batchSize,
        classWeights: weights,
        focalGamma: loss.focalGamma,
        stepMultiple: options.stepMultiple,
        costMatrix: task.costMatrix,
        signal: options.signal,
      });
      if (val === "aborted") {
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
      const metrics = epochMetrics(epoch, run.sums, val, nextLr, task, (now() - started) / 1000);
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
