/**
 * A checkpoint of the running training, as the files `onCheckpoint` receives: the
 * toolkit's format, `model.safetensors`, the feature stats and, at an epoch boundary, the
 * PyTorch pipeline's `.pt`. Private to `src/train/`.
 *
 * @module
 */
import type { SequenceKeys } from "../data/sequence_dataset.ts";
import { deriveSeed } from "../data/seeded_rng.ts";
import type { Task } from "../metrics/task.ts";
import type { LstmClassifier, ModelConfig } from "../model/classifier.ts";
import { exportTorchStateDict } from "../model/safetensors.ts";
import { writePipelineCheckpoint } from "../torch/pipeline_checkpoint.ts";
import type { PyValue } from "../torch/py_value.ts";
import {
  type BestSoFar,
  type CheckpointRunRef,
  type HostTensor,
  type PartialEpoch,
  type TrainingCheckpoint,
  writeCheckpoint,
} from "./checkpoint.ts";
import type { LoopConfig } from "./config.ts";
import type { TrainOptimizer } from "./create_optimizer.ts";
import type { CheckpointFiles } from "./hooks.ts";
import { toPipelineCheckpoint } from "./torch_checkpoint.ts";

/** What every snapshot of one training shares. */
export interface SnapshotSource {
  readonly model: LstmClassifier;
  readonly optimizer: TrainOptimizer;
  readonly modelConfig: ModelConfig;
  readonly loop: LoopConfig;
  readonly task: Task;
  /** The npz members the data was read from; null when unknown. */
  readonly dataKeys: SequenceKeys | null;
  /** Copied into every checkpoint as `feature_stats.json` when given. */
  readonly featureStatsJson: string | undefined;
  /** The MLflow run the training logs to; null when it is not tracked. */
  readonly run: CheckpointRunRef | null;
  /** The `.pt` checkpoint's `args` (`pipelineArgs`). */
  readonly args: ReadonlyMap<string, PyValue>;
}

/** Where the loop stands when the snapshot is taken. */
export interface SnapshotPoint {
  readonly kind: "last" | "best";
  /** Completed epochs (1-based count). */
  readonly epoch: number;
  /** Steps already done of epoch `epoch + 1` (0 at an epoch boundary). */
  readonly stepInEpoch: number;
  /** The learning rate of the next step. */
  readonly lr: number;
  readonly partial: PartialEpoch | null;
  readonly bestValF1: number;
  readonly best: BestSoFar | null;
  readonly epochsWithoutImprovement: number;
  readonly temperature: number | null;
}

/** Reads the weights and optimizer state back from the device and encodes the checkpoint. */
export async function checkpointSnapshot(
  source: SnapshotSource,
  point: SnapshotPoint,
): Promise<CheckpointFiles> {
  const { model, optimizer, loop, args } = source;
  const { kind, epoch, stepInEpoch, lr, bestValF1 } = point;
  const hostWeights: Record<string, HostTensor> = {};
  for (const { name, variable } of model.namedVariables) {
    hostWeights[name] = { shape: variable.shape, data: (await variable.data()) as Float32Array };
  }
  const checkpoint: TrainingCheckpoint = {
    epoch,
    stepInEpoch,
    partial: point.partial,
    bestValF1,
    best: point.best,
    epochsWithoutImprovement: point.epochsWithoutImprovement,
    modelConfig: source.modelConfig,
    loop,
    task: source.task,
    temperature: point.temperature,
    dataKeys: source.dataKeys,
    run: source.run,
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
  if (source.featureStatsJson) {
    files["feature_stats.json"] = new TextEncoder().encode(source.featureStatsJson);
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
  return { kind, epoch, files, ...(pt ? { pt } : {}) };
}
