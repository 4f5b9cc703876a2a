/**
 * The training loop's side of the PyTorch pipeline's checkpoints (`last.pt` / `best.pt`):
 * our model, AdamW and StepLR state as the pipeline's checkpoint dict, and back.
 *
 * - Parameters follow `torchParameters(model)` (the pipeline's `model.parameters()` order);
 *   kernels and their AdamW moments are transposed to torch's [out, in].
 * - Our LSTM bias is torch's `bias_ih + bias_hh`: written as `bias_ih` = our bias,
 *   `bias_hh` = 0, both with our moments. torch's AdamW updates the two separately, which
 *   moves their sum by two Adam steps per update; the optimizer does the same for us
 *   (`copies: 2`, see {@link optimizedVariables}), so a checkpoint resumes to the same
 *   losses in torch and here.
 * - `epoch` is the pipeline's 0-based index of the last finished epoch (our count - 1);
 *   `lr` and the scheduler's `_last_lr` the rate after the epoch's `scheduler.step()`.
 *
 * @module
 */
import type { LstmClassifier } from "../model/classifier.ts";
import type { ModelSettings, Pooling } from "../model/model_settings.ts";
import {
  loadTorchStateDict,
  PIPELINE_POOLING_ARG,
  torchParameters,
  torchStateDict,
  transpose2d,
} from "../model/torch_state_dict.ts";
import type { PipelineCheckpoint } from "../torch/pipeline_checkpoint.ts";
import type { PyValue } from "../torch/py_value.ts";
import { torchCpuRngState } from "../torch/torch_rng_state.ts";
import { TorchTensor, torchTensorToFloat32 } from "../torch/torch_tensor.ts";
import type { AdamWState, OptimizedVariable } from "./adamw.ts";
import type { LoopConfig } from "./config.ts";

/**
 * The model's variables for the optimizer, each with `copies` = the number of PyTorch
 * parameters it stands for (2 for an LSTM bias, `bias_ih + bias_hh`).
 */
export function optimizedVariables(model: LstmClassifier): OptimizedVariable[] {
  const copies = new Map<string, number>();
  for (const p of torchParameters(model)) copies.set(p.variable, (copies.get(p.variable) ?? 0) + 1);
  return model.namedVariables.map((v) => ({ ...v, copies: copies.get(v.name) ?? 1 }));
}

/** Settings that are Python floats in the pipeline's argparse (`type=float`). */
const FLOAT_ARGS = new Set(["dropout", "lr", "weightDecay", "stepLrGamma", "gradClip"]);

/**
 * The pipeline's `args` key order (`vars(argparse.Namespace)` of `train_lstm.py`), then the
 * toolkit's own settings. Keys not known to a caller are left out.
 */
const ARG_ORDER = [
  "trainNpz",
  "valNpz",
  "featureStats",
  "hiddenSize",
  "numLayers",
  "bidirectional",
  "dropout",
  "pooling",
  "batchSize",
  "epochs",
  "lr",
  "weightDecay",
  "stepLrStepSize",
  "stepLrGamma",
  "weightedLoss",
  "weightedSampler",
  "focalLoss",
  "gradClip",
  "device",
  "outputDir",
  "resumeFrom",
  "logInterval",
  "mlflow",
  "mlflowTrackingUri",
  "mlflowExperiment",
  "mlflowRunName",
  "seed",
  "patience",
  "xKey",
  "yKey",
  "lengthsKey",
  "dataVersion",
  "modelTag",
  "lstmImpl",
  "bucketByLength",
];

/** camelCase -> snake_case (the pipeline's flag names). */
export function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * One setting as the pipeline's argparse would hold it: ints as Python ints, `type=float`
 * settings as floats, booleans, strings; unset values (`""`, `--grad-clip 0`) as None.
 */
export function pipelineArgValue(key: string, value: unknown): PyValue {
  if (value === "" || value === null || value === undefined) return null;
  if (key === "gradClip" && value === 0) return null;
  if (key === "pooling") return PIPELINE_POOLING_ARG[value as Pooling] ?? String(value);
  if (typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") {
    return FLOAT_ARGS.has(key) || !Number.isInteger(value) ? value : BigInt(value);
  }
  return String(value);
}

/**
 * The checkpoint's `args`: the model and loop settings, and `run`'s (paths, device, MLflow
 * flags), under the pipeline's snake_case names, in its order. The tracking URI is always
 * None: a checkpoint never carries where (or with which credentials) a run was logged.
 */
export function pipelineArgs(
  model: ModelSettings,
  loop: LoopConfig,
  run: object = {},
): Map<string, PyValue> {
  const all: Record<string, unknown> = { ...run, ...model, ...loop };
  const args = new Map<string, PyValue>();
  for (const key of [...ARG_ORDER, ...Object.keys(all).filter((k) => !ARG_ORDER.includes(k))]) {
    // Lists and maps (tags) are not argparse scalars: left out.
    if (!(key in all) || (typeof all[key] === "object" && all[key] !== null)) continue;
    args.set(snakeCase(key), key === "mlflowTrackingUri" ? null : pipelineArgValue(key, all[key]));
  }
  return args;
}

/** What {@link toPipelineCheckpoint} needs besides the model. */
export interface PipelineSnapshot {
  /** Finished epochs (our 1-based count). */
  readonly epoch: number;
  /** Best val macro-F1 so far; null without validation. */
  readonly bestValF1: number | null;
  /** The learning rate of the next epoch (after the scheduler's step). */
  readonly nextLr: number;
  readonly optimizer: AdamWState;
  readonly loop: LoopConfig;
  readonly args: ReadonlyMap<string, PyValue>;
}

const rngStates = new Map<number, Uint8Array>();

/**
 * The pipeline's checkpoint dict for our model and optimizer: what `torch.load` and the
 * pipeline's `load_state_dict`s (model strict, AdamW, StepLR) accept.
 */
export async function toPipelineCheckpoint(
  model: LstmClassifier,
  s: PipelineSnapshot,
): Promise<PipelineCheckpoint> {
  const params = torchParameters(model);
  const state = new Map<
    number,
    { step: number; expAvg: TorchTensor; expAvgSq: TorchTensor }
  >();
  params.forEach((p, i) => {
    const moment = (src: Float32Array) =>
      new TorchTensor(
        "float32",
        p.shape,
        p.layout === "transposed" ? transpose2d(src, p.shape[1], p.shape[0]) : src.slice(),
      );
    state.set(i, {
      step: s.optimizer.step,
      expAvg: moment(s.optimizer.m[p.variable]),
      expAvgSq: moment(s.optimizer.v[p.variable]),
    });
  });
  const { lr, stepLrStepSize, stepLrGamma, weightDecay, seed } = s.loop;
  let rng = rngStates.get(seed);
  if (!rng) rngStates.set(seed, rng = torchCpuRngState(BigInt(seed)));
  return {
    epoch: s.epoch - 1,
    modelState: await torchStateDict(model),
    optimizerState: {
      state: s.optimizer.step > 0 ? state : new Map(),
      paramGroups: [{
        lr: s.nextLr,
        betas: [0.9, 0.999],
        eps: 1e-8,
        weightDecay,
        amsgrad: false,
        maximize: false,
        initialLr: lr,
        params: params.map((_, i) => i),
      }],
    },
    schedulerState: {
      stepSize: stepLrStepSize,
      gamma: stepLrGamma,
      baseLrs: [lr],
      lastEpoch: s.epoch,
      lastLr: [s.nextLr],
    },
    bestValF1: s.bestValF1,
    args: s.args,
    torchRngState: rng,
  };
}

/** A pipeline checkpoint loaded into a model: where training continues. */
export interface PipelineResume {
  /** Finished epochs (our 1-based count: the checkpoint's `epoch` + 1). */
  readonly epoch: number;
  /** -1 when the checkpoint has none. */
  readonly bestValF1: number;
  /** The rate of the next epoch (the scheduler's `_last_lr`), when saved. */
  readonly nextLr: number | null;
  /** Null when the checkpoint has no optimizer state. */
  readonly optimizer: AdamWState | null;
  /** Where the state could not be taken over exactly, one line each. */
  readonly notes: string[];
}

function equal(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Loads a pipeline checkpoint's weights into `model` (strict, as `load_state_dict`) and
 * converts its AdamW state to ours (moments by parameter index, transposed back; the two
 * LSTM biases' moments, equal in any checkpoint torch trained, become the one bias's).
 *
 * @throws {RangeError} for a state dict or optimizer state that does not fit the model, or
 * AdamW settings the toolkit does not run (amsgrad, maximize, other betas or eps).
 */
export function resumeFromPipeline(
  model: LstmClassifier,
  ckpt: PipelineCheckpoint,
): PipelineResume {
  const notes: string[] = [];
  const fail = (what: string): never => {
    throw new RangeError(`Cannot resume from the PyTorch checkpoint: ${what}`);
  };
  const params = torchParameters(model);
  let optimizer: AdamWState | null = null;
  const opt = ckpt.optimizerState;
  if (opt) {
    const group = opt.paramGroups[0];
    if (opt.paramGroups.length !== 1 || !group) {
      fail(`optimizer_state has ${opt.paramGroups.length} param groups, the pipeline uses 1`);
    }
    if (group.params.length !== params.length) {
      fail(
        `optimizer_state's param group has ${group.params.length} parameters, the model has ` +
          `${params.length} (${params.map((p) => p.torchName).join(", ")})`,
      );
    }
    if (group.amsgrad || group.maximize) fail("AdamW with amsgrad or maximize is not supported");
    if (group.betas[0] !== 0.9 || group.betas[1] !== 0.999 || group.eps !== 1e-8) {
      fail(
        `AdamW betas (${group.betas.join(", ")}) and eps ${group.eps} differ from torch's ` +
          "defaults (0.9, 0.999) and 1e-8, which the toolkit uses",
      );
    }
    const m: Record<string, Float32Array> = {}, v: Record<string, Float32Array> = {};
    const steps = new Set<number>();
    params.forEach((p, k) => {
      const s = opt.state.get(group.params[k]);
      const size = p.shape.reduce((a, b) => a * b, 1);
      let em: Float32Array = new Float32Array(size), ev: Float32Array = new Float32Array(size);
      if (s) {
        steps.add(s.step);
        if (s.expAvg.shape.join() !== p.shape.join()) {
          fail(`exp_avg of ${p.torchName} is [${s.expAvg.shape}], expected [${p.shape}]`);
        }
        em = torchTensorToFloat32(s.expAvg);
        ev = torchTensorToFloat32(s.expAvgSq);
        if (p.layout === "transposed") {
          em = transpose2d(em, p.shape[0], p.shape[1]);
          ev = transpose2d(ev, p.shape[0], p.shape[1]);
        }
      }
      if (p.layout === "bias_hh") {
        if (!equal(em, m[p.variable]) || !equal(ev, v[p.variable])) {
          notes.push(
            `the AdamW moments of ${p.torchName} differ from those of its bias_ih; their mean ` +
              "is used for both (torch gives the two the same gradients, so this checkpoint " +
              "was trained otherwise)",
          );
          m[p.variable] = m[p.variable].map((x, i) => (x + em[i]) / 2);
          v[p.variable] = v[p.variable].map((x, i) => (x + ev[i]) / 2);
        }
      } else {
        m[p.variable] = em;
        v[p.variable] = ev;
      }
    });
    if (steps.size > 1) {
      notes.push(
        `the AdamW steps differ by parameter (${[...steps].join(", ")}); the largest is used`,
      );
    }
    optimizer = { step: steps.size > 0 ? Math.max(...steps) : 0, m, v };
  }
  loadTorchStateDict(model, ckpt.modelState);
  const lastLr = ckpt.schedulerState?.lastLr[0] ?? opt?.paramGroups[0]?.lr;
  return {
    epoch: ckpt.epoch + 1,
    bestValF1: ckpt.bestValF1 ?? -1,
    nextLr: lastLr ?? null,
    optimizer,
    notes,
  };
}
