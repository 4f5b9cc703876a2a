/**
 * Training checkpoints as files of bytes: everything needed to resume exactly, plus the
 * PyTorch-named weights. The core produces and reads bytes; `cli/` (or the browser) stores them.
 *
 * Files: `state.json` (epoch, step, best val F1 and the best checkpoint's promotion metric,
 * the model config, the loop settings, the task (class names, cost matrix, promotion metric),
 * the temperature fitted on the validation set, the data's npz keys, RNG and schedule state,
 * and the MLflow run it belongs to, when tracked),
 * `weights.safetensors` (tfjs layout, our variable names), `optimizer.safetensors` (AdamW
 * moments `m.<name>` / `v.<name>`), and, when written by `train()`, `model.safetensors`
 * (PyTorch state_dict names) and `feature_stats.json`. Never paths, URIs or credentials.
 *
 * `state.json` format 1 (which held the whole run config, paths included) is still read:
 * its loop settings and npz keys are kept, its paths and tracking URI dropped.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { RngState } from "../data/seeded_rng.ts";
import { DEFAULT_SEQUENCE_KEYS, type SequenceKeys } from "../data/sequence_dataset.ts";
import {
  createLstmClassifier,
  type LstmClassifier,
  type ModelConfig,
} from "../model/classifier.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  type SafetensorsTensor,
} from "../model/safetensors.ts";
import { defaultTask, parseTask, type Task, taskToJson } from "../metrics/task.ts";
import type { AdamWState } from "./adamw.ts";
import { DEFAULT_LOOP_CONFIG, type LoopConfig } from "./config.ts";

/** Version of `state.json`; bumped on incompatible changes. 1 is still read. */
export const CHECKPOINT_FORMAT = 2;

/** The MLflow run (and its experiment) that a checkpoint's training logs to. */
export interface CheckpointRunRef {
  readonly runId: string;
  readonly experimentId: string;
}

/** A tensor on the host. */
export interface HostTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Training sums of an epoch interrupted mid-way (so a resumed epoch reports the same). */
export interface PartialEpoch {
  readonly lossSum: number;
  readonly correct: number;
  readonly seen: number;
}

/** How the best checkpoint so far was chosen: its promotion metric, then its val loss. */
export interface BestSoFar {
  /** The task's promotion metric (`val_macro_f1`, `val_acc` or `val_cost`). */
  readonly metric: string;
  readonly value: number;
  /** Breaks ties on `value`: the lower val loss wins. */
  readonly valLoss: number;
  /** The epoch it was reached at. */
  readonly epoch: number;
}

/** Everything a checkpoint holds, decoded. */
export interface TrainingCheckpoint {
  /** Completed epochs (1-based count). */
  readonly epoch: number;
  /** Steps already done of epoch `epoch + 1` (0 at an epoch boundary). */
  readonly stepInEpoch: number;
  readonly partial: PartialEpoch | null;
  /** Val macro-F1 of the best checkpoint so far (-1 before the first validation). */
  readonly bestValF1: number;
  /** The best checkpoint so far by the task's promotion metric; null before validation. */
  readonly best?: BestSoFar | null;
  /** The task trained for; `readCheckpoint` fills in the default task of older checkpoints. */
  readonly task?: Task;
  /**
   * The temperature fitted on this epoch's validation logits (temperature scaling); null
   * before the first validation and in older checkpoints.
   */
  readonly temperature?: number | null;
  readonly epochsWithoutImprovement: number;
  readonly modelConfig: ModelConfig;
  /** The loop's settings when the checkpoint was written. */
  readonly loop: LoopConfig;
  /** The npz members the data was read from; null when unknown. */
  readonly dataKeys: SequenceKeys | null;
  /** The MLflow run the training logs to; null when it is not tracked. */
  readonly run: CheckpointRunRef | null;
  /** All randomness derives from (seed, epoch, step); this is where the next draw starts. */
  readonly rng: RngState & { readonly seed: number; readonly epoch: number; readonly step: number };
  /** StepLR state: the LR of the next step and the schedule's parameters. */
  readonly schedule: { readonly lr: number; readonly stepSize: number; readonly gamma: number };
  readonly weights: Readonly<Record<string, HostTensor>>;
  /** Absent in weights-only checkpoints. */
  readonly optimizer: AdamWState | null;
}

const decoder = new TextDecoder();

/** Encodes a checkpoint as files (`state.json`, `weights.safetensors`, `optimizer.safetensors`). */
export function writeCheckpoint(checkpoint: TrainingCheckpoint): Record<string, Uint8Array> {
  const { weights, optimizer, task, ...meta } = checkpoint;
  const tensors: Record<string, SafetensorsTensor> = {};
  for (const [name, t] of Object.entries(weights)) tensors[name] = { dtype: "F32", ...t };
  const files: Record<string, Uint8Array> = {
    "weights.safetensors": encodeSafetensors(tensors, { format: "tfjs" }),
  };
  if (optimizer) {
    const moments: Record<string, SafetensorsTensor> = {};
    for (const [name, t] of Object.entries(weights)) {
      moments[`m.${name}`] = { dtype: "F32", shape: t.shape, data: optimizer.m[name] };
      moments[`v.${name}`] = { dtype: "F32", shape: t.shape, data: optimizer.v[name] };
    }
    files["optimizer.safetensors"] = encodeSafetensors(moments, { step: String(optimizer.step) });
  }
  const state = {
    format: CHECKPOINT_FORMAT,
    ...meta,
    ...(task ? { task: taskToJson(task) } : {}),
    optimizerStep: optimizer?.step ?? null,
  };
  files["state.json"] = new TextEncoder().encode(JSON.stringify(state, null, 2) + "\n");
  return files;
}

function need(files: Readonly<Record<string, Uint8Array>>, name: string): Uint8Array {
  const bytes = files[name];
  if (!bytes) {
    throw new RangeError(
      `Cannot read checkpoint: missing file "${name}" (files: ${
        Object.keys(files).join(", ") || "none"
      }); ` +
        "pass a checkpoint folder such as <output-dir>/last",
    );
  }
  return bytes;
}

function f32(t: SafetensorsTensor, name: string): HostTensor {
  if (t.dtype !== "F32") {
    throw new TypeError(
      `Cannot read checkpoint: tensor "${name}" must be F32, received ${t.dtype}`,
    );
  }
  return { shape: [...t.shape], data: t.data as Float32Array };
}

/**
 * A format-1 `state.json` (which held the whole flat run config, paths and tracking URI
 * included) as format 2: the loop settings and npz keys are kept, the rest is dropped.
 */
function fromFormat1(state: Record<string, unknown>): Record<string, unknown> {
  const { config, ...rest } = state;
  const old = (config ?? {}) as Record<string, unknown>;
  const loop: Record<string, unknown> = {};
  for (const key of Object.keys(DEFAULT_LOOP_CONFIG) as (keyof LoopConfig)[]) {
    loop[key] = old[key] ?? DEFAULT_LOOP_CONFIG[key];
  }
  const dataKeys: Record<string, unknown> = {};
  for (const key of Object.keys(DEFAULT_SEQUENCE_KEYS) as (keyof SequenceKeys)[]) {
    dataKeys[key] = typeof old[key] === "string" ? old[key] : DEFAULT_SEQUENCE_KEYS[key];
  }
  return { ...rest, format: CHECKPOINT_FORMAT, loop, dataKeys, run: null };
}

/** Decodes {@link writeCheckpoint}'s files (extra files such as `model.safetensors` are ignored). */
export function readCheckpoint(files: Readonly<Record<string, Uint8Array>>): TrainingCheckpoint {
  let state: Record<string, unknown>;
  try {
    state = JSON.parse(decoder.decode(need(files, "state.json")));
  } catch (cause) {
    if (cause instanceof RangeError) throw cause;
    throw new SyntaxError(`Cannot read checkpoint: state.json is not valid JSON (${cause})`, {
      cause,
    });
  }
  if (state.format === 1) state = fromFormat1(state);
  else if (state.format !== CHECKPOINT_FORMAT) {
    throw new RangeError(
      `Cannot read checkpoint: state.json format ${
        JSON.stringify(state.format)
      } is not supported, expected ${CHECKPOINT_FORMAT} (or 1)`,
    );
  }
  const weightsFile = decodeSafetensors(need(files, "weights.safetensors"));
  const weights: Record<string, HostTensor> = {};
  for (const [name, t] of Object.entries(weightsFile.tensors)) weights[name] = f32(t, name);
  let optimizer: AdamWState | null = null;
  if (files["optimizer.safetensors"]) {
    const opt = decodeSafetensors(files["optimizer.safetensors"]);
    const m: Record<string, Float32Array> = {}, v: Record<string, Float32Array> = {};
    for (const name of Object.keys(weights)) {
      for (const [prefix, into] of [["m", m], ["v", v]] as const) {
        const t = opt.tensors[`${prefix}.${name}`];
        if (!t) {
          throw new RangeError(
            `Cannot read checkpoint: optimizer.safetensors has no "${prefix}.${name}"`,
          );
        }
        into[name] = f32(t, `${prefix}.${name}`).data;
      }
    }
    optimizer = { step: Number(opt.metadata.step ?? state.optimizerStep ?? 0), m, v };
  }
  const { optimizerStep: _s, format: _f, dataKeys, run, task, temperature, best, ...meta } = state;
  const modelConfig = meta.modelConfig as ModelConfig;
  return {
    ...(meta as unknown as TrainingCheckpoint),
    dataKeys: (dataKeys ?? null) as SequenceKeys | null,
    run: (run ?? null) as CheckpointRunRef | null,
    task: readTask(task, modelConfig?.numClasses),
    temperature: readTemperature(temperature),
    best: (best ?? null) as BestSoFar | null,
    weights,
    optimizer,
  };
}

/** The checkpoint's task, checked against its model's K; older checkpoints get the default. */
function readTask(json: unknown, numClasses: unknown): Task {
  if (!Number.isInteger(numClasses) || (numClasses as number) < 1) {
    throw new RangeError(
      `Cannot read checkpoint: state.json has no valid modelConfig.numClasses ` +
        `(received ${JSON.stringify(numClasses)})`,
    );
  }
  const k = numClasses as number;
  if (json === undefined || json === null) return defaultTask(k);
  const task = parseTask(json, 'checkpoint state.json "task"');
  if (task.classNames.length !== k) {
    throw new RangeError(
      `Cannot read checkpoint: its task names ${task.classNames.length} classes but its ` +
        `model has ${k} outputs`,
    );
  }
  return task;
}

function readTemperature(value: unknown): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(
      `Cannot read checkpoint: "temperature" must be a finite number > 0 or null, received ` +
        JSON.stringify(value),
    );
  }
  return value;
}

/**
 * Assigns a checkpoint's weights to `model`'s variables by name; names and shapes must match.
 */
export function assignCheckpointWeights(
  model: LstmClassifier,
  checkpoint: TrainingCheckpoint,
): void {
  for (const { name, variable } of model.namedVariables) {
    const t = checkpoint.weights[name];
    if (!t || t.data.length !== variable.size) {
      throw new RangeError(
        `Cannot load checkpoint weights: "${name}" expected shape [${variable.shape}], received ${
          t ? `[${t.shape}]` : "nothing"
        }; the checkpoint was made with another model configuration`,
      );
    }
    tf.tidy(() => variable.assign(tf.tensor(t.data, variable.shape, "float32")));
  }
}

/**
 * Creates the classifier a checkpoint describes and loads its weights: what the evaluate
 * job and the browser demo use.
 *
 * @example
 * ```ts
 * const model = restoreClassifier(readCheckpoint(files));
 * const probs = await predictProbabilities(model, valData);
 * ```
 */
export function restoreClassifier(checkpoint: TrainingCheckpoint): LstmClassifier {
  const model = createLstmClassifier(checkpoint.modelConfig, { seed: checkpoint.loop.seed });
  try {
    assignCheckpointWeights(model, checkpoint);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
