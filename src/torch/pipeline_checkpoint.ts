/**
 * The PyTorch pipeline's checkpoint dict (`last.pt` / `best.pt`, written by its
 * `train_lstm.py` with `torch.save`), decoded to plain numbers and tensors and encoded back
 * in the layout torch's own `load_state_dict`s accept:
 *
 * ```
 * {"epoch": int, "model_state": OrderedDict[str, Tensor],
 *  "optimizer_state": {"state": {i: {"step": Tensor(), "exp_avg": T, "exp_avg_sq": T}},
 *                      "param_groups": [{"lr", "betas", "eps", "weight_decay", ..., "params"}]},
 *  "scheduler_state": {"step_size", "gamma", "base_lrs", "last_epoch", "_step_count",
 *                      "_last_lr", ...} | None,
 *  "best_val_f1": float, "args": vars(argparse.Namespace),
 *  "torch_rng_state": ByteTensor, ["cuda_rng_state": ...]}
 * ```
 *
 * Optimizer state is keyed by parameter index: the order of `model.parameters()`, which for
 * the pipeline's model is the order of `model_state`'s keys.
 *
 * @module
 */
import { PyOrderedDict, PyTuple, pyTypeName, type PyValue } from "./py_value.ts";
import { readTorchFile, type ReadTorchFileOptions } from "./read_torch_file.ts";
import { TorchTensor } from "./torch_tensor.ts";
import { writeTorchFile, type WriteTorchFileOptions } from "./write_torch_file.ts";

/** AdamW's state of one parameter. */
export interface AdamWParamState {
  /** Updates applied so far (torch keeps it as a float32 scalar tensor). */
  readonly step: number;
  readonly expAvg: TorchTensor;
  readonly expAvgSq: TorchTensor;
  /** Only with `amsgrad=True`. */
  readonly maxExpAvgSq?: TorchTensor;
}

/** One AdamW parameter group. */
export interface AdamWParamGroup {
  /** The rate of the next update (StepLR writes it here). */
  readonly lr: number;
  readonly betas: readonly [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  readonly amsgrad: boolean;
  readonly maximize: boolean;
  /** Set by an LR scheduler: the rate it started from. */
  readonly initialLr?: number;
  /** Parameter indices of this group. */
  readonly params: readonly number[];
  /**
   * Other keys as saved (`foreach`, `capturable`, `differentiable`, `fused`,
   * `decoupled_weight_decay`, ...); written back as they are, torch 2.x's defaults otherwise.
   */
  readonly others?: ReadonlyMap<string, PyValue>;
}

/** `torch.optim.AdamW.state_dict()`. */
export interface AdamWStateDict {
  /** By parameter index; a parameter that never had a gradient has no entry. */
  readonly state: ReadonlyMap<number, AdamWParamState>;
  readonly paramGroups: readonly AdamWParamGroup[];
}

/** `torch.optim.lr_scheduler.StepLR.state_dict()`. */
export interface StepLrStateDict {
  readonly stepSize: number;
  readonly gamma: number;
  readonly baseLrs: readonly number[];
  /** `scheduler.step()` calls so far (epochs done). */
  readonly lastEpoch: number;
  /** The rates after the last step (the next epoch's). */
  readonly lastLr: readonly number[];
  /** Default `lastEpoch + 1` (the constructor's step counts). */
  readonly stepCount?: number;
  /** Other keys as saved (`verbose`, `_is_initial`, ...), written back as they are. */
  readonly others?: ReadonlyMap<string, PyValue>;
}

/** The pipeline's checkpoint, decoded. */
export interface PipelineCheckpoint {
  /** The epoch this checkpoint ends (0-based, as the pipeline counts). */
  readonly epoch: number;
  /**
   * `model.state_dict()`: `lstm.*`, `classifier.0/3/6.*`, in parameter order. Decoded as a
   * {@link PyOrderedDict} whose attributes (`_metadata`) are written back.
   */
  readonly modelState: ReadonlyMap<string, TorchTensor>;
  readonly optimizerState: AdamWStateDict | null;
  readonly schedulerState: StepLrStateDict | null;
  /** null when the pipeline stored None (no validation set). */
  readonly bestValF1: number | null;
  /** `vars(args)`: the run's flags, snake_case, as argparse parsed them. */
  readonly args: ReadonlyMap<string, PyValue>;
  /** `torch.get_rng_state()` (5056 bytes for the CPU generator). */
  readonly torchRngState: Uint8Array | null;
  /** As saved, when CUDA was available. */
  readonly cudaRngState?: PyValue;
}

type Dict = ReadonlyMap<PyValue, PyValue>;

function fail(where: string, what: string): never {
  throw new TypeError(`Cannot read the pipeline checkpoint: ${where} ${what}`);
}

function dict(v: PyValue | undefined, where: string): Dict {
  if (!(v instanceof Map)) fail(where, `must be a dict, found ${pyTypeName(v)}`);
  return v as Dict;
}

function num(v: PyValue | undefined, where: string): number {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (v instanceof TorchTensor && v.data.length === 1 && v.dtype !== "bool") {
    return Number(v.data[0]);
  }
  return fail(where, `must be a number, found ${pyTypeName(v)}`);
}

function int(v: PyValue | undefined, where: string): number {
  const n = num(v, where);
  if (!Number.isSafeInteger(n)) fail(where, `must be an integer, found ${n}`);
  return n;
}

function bool(v: PyValue | undefined, where: string): boolean {
  if (typeof v !== "boolean") fail(where, `must be a bool, found ${pyTypeName(v)}`);
  return v as boolean;
}

function tensor(v: PyValue | undefined, where: string): TorchTensor {
  if (!(v instanceof TorchTensor)) fail(where, `must be a tensor, found ${pyTypeName(v)}`);
  return v as TorchTensor;
}

function list(v: PyValue | undefined, where: string): readonly PyValue[] {
  if (Array.isArray(v)) return v;
  if (v instanceof PyTuple) return v.items;
  return fail(where, `must be a list, found ${pyTypeName(v)}`);
}

function others(d: Dict, known: readonly string[]): Map<string, PyValue> {
  const out = new Map<string, PyValue>();
  for (const [k, v] of d) if (typeof k === "string" && !known.includes(k)) out.set(k, v);
  return out;
}

const GROUP_KEYS = [
  "lr",
  "betas",
  "eps",
  "weight_decay",
  "amsgrad",
  "maximize",
  "initial_lr",
  "params",
];
const SCHEDULER_KEYS = ["step_size", "gamma", "base_lrs", "last_epoch", "_step_count", "_last_lr"];

function decodeOptimizer(v: PyValue | undefined): AdamWStateDict | null {
  if (v === null || v === undefined) return null;
  const d = dict(v, "optimizer_state");
  const state = new Map<number, AdamWParamState>();
  for (const [k, s] of dict(d.get("state"), "optimizer_state['state']")) {
    const where = `optimizer_state['state'][${String(k)}]`;
    const p = dict(s, where);
    const max = p.get("max_exp_avg_sq");
    state.set(int(k, `${where} key`), {
      step: num(p.get("step"), `${where}['step']`),
      expAvg: tensor(p.get("exp_avg"), `${where}['exp_avg']`),
      expAvgSq: tensor(p.get("exp_avg_sq"), `${where}['exp_avg_sq']`),
      ...(max === undefined ? {} : { maxExpAvgSq: tensor(max, `${where}['max_exp_avg_sq']`) }),
    });
  }
  const paramGroups = list(d.get("param_groups"), "optimizer_state['param_groups']").map((g, i) => {
    const where = `optimizer_state['param_groups'][${i}]`;
    const group = dict(g, where);
    const betas = list(group.get("betas"), `${where}['betas']`);
    if (betas.length !== 2) fail(`${where}['betas']`, `must hold 2 numbers, found ${betas.length}`);
    const initialLr = group.get("initial_lr");
    return {
      lr: num(group.get("lr"), `${where}['lr']`),
      betas: [
        num(betas[0], `${where}['betas'][0]`),
        num(betas[1], `${where}['betas'][1]`),
      ] as const,
      eps: num(group.get("eps"), `${where}['eps']`),
      weightDecay: num(group.get("weight_decay"), `${where}['weight_decay']`),
      amsgrad: group.has("amsgrad") ? bool(group.get("amsgrad"), `${where}['amsgrad']`) : false,
      maximize: group.has("maximize") ? bool(group.get("maximize"), `${where}['maximize']`) : false,
      ...(initialLr === undefined ? {} : { initialLr: num(initialLr, `${where}['initial_lr']`) }),
      params: list(group.get("params"), `${where}['params']`).map((p) =>
        int(p, `${where}['params']`)
      ),
      others: others(group, GROUP_KEYS),
    };
  });
  return { state, paramGroups };
}

function decodeScheduler(v: PyValue | undefined): StepLrStateDict | null {
  if (v === null || v === undefined) return null;
  const d = dict(v, "scheduler_state");
  if (!d.has("step_size") || !d.has("gamma")) {
    fail("scheduler_state", `is not a StepLR state (keys ${[...d.keys()].map(String).join(", ")})`);
  }
  const nums = (key: string) =>
    list(d.get(key), `scheduler_state['${key}']`).map((x) => num(x, key));
  const lastEpoch = int(d.get("last_epoch"), "scheduler_state['last_epoch']");
  return {
    stepSize: int(d.get("step_size"), "scheduler_state['step_size']"),
    gamma: num(d.get("gamma"), "scheduler_state['gamma']"),
    baseLrs: nums("base_lrs"),
    lastEpoch,
    lastLr: d.has("_last_lr") ? nums("_last_lr") : [],
    stepCount: d.has("_step_count")
      ? int(d.get("_step_count"), "scheduler_state['_step_count']")
      : lastEpoch + 1,
    others: others(d, SCHEDULER_KEYS),
  };
}

/**
 * Decodes the pipeline's checkpoint dict (as {@link readTorchFile} returns it).
 *
 * @throws {TypeError} naming the key when a part is missing or of the wrong type.
 */
export function decodePipelineCheckpoint(value: PyValue): PipelineCheckpoint {
  const d = dict(value, "the file's value");
  for (const key of ["epoch", "model_state", "args"]) {
    if (!d.has(key)) {
      fail(
        `key '${key}'`,
        `is missing (keys: ${
          [...d.keys()].map(String).join(", ")
        }); not a checkpoint of the PyTorch pipeline's train_lstm.py?`,
      );
    }
  }
  // An OrderedDict, keeping state_dict()'s attributes (_metadata) to write them back.
  const source = dict(d.get("model_state"), "model_state");
  const modelState = new PyOrderedDict<string, TorchTensor>();
  for (const [k, t] of source) {
    if (typeof k !== "string") fail("model_state", `keys must be str, found ${pyTypeName(k)}`);
    modelState.set(k as string, tensor(t, `model_state['${String(k)}']`));
  }
  if (source instanceof PyOrderedDict) {
    for (const [k, v] of source.attributes) modelState.attributes.set(k, v);
  }
  const args = new Map<string, PyValue>();
  for (const [k, v] of dict(d.get("args"), "args")) {
    if (typeof k !== "string") fail("args", `keys must be str, found ${pyTypeName(k)}`);
    args.set(k as string, v);
  }
  const best = d.get("best_val_f1");
  const rng = d.get("torch_rng_state");
  let torchRngState: Uint8Array | null = null;
  if (rng !== undefined && rng !== null) {
    const t = tensor(rng, "torch_rng_state");
    if (t.dtype !== "uint8") fail("torch_rng_state", `must be a uint8 tensor, found ${t.dtype}`);
    torchRngState = (t.data as Uint8Array).slice();
  }
  return {
    epoch: int(d.get("epoch"), "epoch"),
    modelState,
    optimizerState: decodeOptimizer(d.get("optimizer_state")),
    schedulerState: decodeScheduler(d.get("scheduler_state")),
    bestValF1: best === undefined || best === null ? null : num(best, "best_val_f1"),
    args,
    torchRngState,
    ...(d.has("cuda_rng_state") ? { cudaRngState: d.get("cuda_rng_state")! } : {}),
  };
}

function encodeOptimizer(o: AdamWStateDict): Map<PyValue, PyValue> {
  const state = new Map<PyValue, PyValue>();
  for (const [i, s] of [...o.state].sort((a, b) => a[0] - b[0])) {
    const p = new Map<PyValue, PyValue>([
      ["step", new TorchTensor("float32", [], new Float32Array([s.step]))],
      ["exp_avg", s.expAvg],
      ["exp_avg_sq", s.expAvgSq],
    ]);
    if (s.maxExpAvgSq) p.set("max_exp_avg_sq", s.maxExpAvgSq);
    state.set(BigInt(i), p);
  }
  const groups = o.paramGroups.map((g) => {
    const flag = (key: string, fallback: PyValue) => g.others?.get(key) ?? fallback;
    // torch 2.x's keys, in its order; `others` may override the flags.
    const m = new Map<PyValue, PyValue>([
      ["lr", g.lr],
      ["betas", new PyTuple([g.betas[0], g.betas[1]])],
      ["eps", g.eps],
      ["weight_decay", g.weightDecay],
      ["amsgrad", g.amsgrad],
      ["maximize", g.maximize],
      ["foreach", flag("foreach", null)],
      ["capturable", flag("capturable", false)],
      ["differentiable", flag("differentiable", false)],
      ["fused", flag("fused", null)],
      ["decoupled_weight_decay", flag("decoupled_weight_decay", true)],
    ]);
    for (const [k, v] of g.others ?? []) if (!m.has(k)) m.set(k, v);
    if (g.initialLr !== undefined) m.set("initial_lr", g.initialLr);
    m.set("params", g.params.map((p) => BigInt(p)));
    return m;
  });
  return new Map<PyValue, PyValue>([["state", state], ["param_groups", groups]]);
}

function encodeScheduler(s: StepLrStateDict): Map<PyValue, PyValue> {
  const m = new Map<PyValue, PyValue>([
    ["step_size", BigInt(s.stepSize)],
    ["gamma", s.gamma],
    ["base_lrs", [...s.baseLrs]],
    ["last_epoch", BigInt(s.lastEpoch)],
    ["_step_count", BigInt(s.stepCount ?? s.lastEpoch + 1)],
    ["_is_initial", s.others?.get("_is_initial") ?? false],
    ["_get_lr_called_within_step", s.others?.get("_get_lr_called_within_step") ?? false],
  ]);
  for (const [k, v] of s.others ?? []) if (!m.has(k)) m.set(k, v);
  m.set("_last_lr", [...s.lastLr]);
  return m;
}

/**
 * Encodes a checkpoint in the pipeline's dict layout (torch 2.x's key names and types:
 * Python ints as ints, the AdamW step as a float32 scalar tensor, betas as a tuple), ready
 * for {@link writeTorchFile}.
 */
export function encodePipelineCheckpoint(ckpt: PipelineCheckpoint): PyValue {
  // An OrderedDict as state_dict() returns, keeping its attributes (_metadata) when it has them.
  const model = ckpt.modelState instanceof PyOrderedDict
    ? ckpt.modelState
    : new PyOrderedDict(ckpt.modelState);
  const out = new Map<PyValue, PyValue>([
    ["epoch", BigInt(ckpt.epoch)],
    ["model_state", model],
    ["optimizer_state", ckpt.optimizerState ? encodeOptimizer(ckpt.optimizerState) : null],
    ["scheduler_state", ckpt.schedulerState ? encodeScheduler(ckpt.schedulerState) : null],
    ["best_val_f1", ckpt.bestValF1],
    ["args", new Map<PyValue, PyValue>(ckpt.args)],
    [
      "torch_rng_state",
      ckpt.torchRngState
        ? new TorchTensor("uint8", [ckpt.torchRngState.length], ckpt.torchRngState)
        : null,
    ],
  ]);
  if (ckpt.cudaRngState !== undefined) out.set("cuda_rng_state", ckpt.cudaRngState);
  return out;
}

/**
 * Reads a pipeline checkpoint file (`last.pt`, `best.pt`): {@link readTorchFile}, then
 * {@link decodePipelineCheckpoint}.
 *
 * @example
 * ```ts
 * const ckpt = readPipelineCheckpoint(await Deno.readFile("artifacts/best.pt"));
 * console.log(ckpt.epoch, ckpt.bestValF1, ckpt.args.get("hidden_size"));
 * ```
 */
export function readPipelineCheckpoint(
  bytes: Uint8Array,
  options?: ReadTorchFileOptions,
): PipelineCheckpoint {
  return decodePipelineCheckpoint(readTorchFile(bytes, options));
}

/**
 * Writes a pipeline checkpoint file that `torch.load(path, weights_only=True)` opens:
 * {@link encodePipelineCheckpoint}, then {@link writeTorchFile} (pass `archiveName: "last"`
 * for `last.pt`, as torch.save names it).
 */
export function writePipelineCheckpoint(
  ckpt: PipelineCheckpoint,
  options?: WriteTorchFileOptions,
): Uint8Array {
  return writeTorchFile(encodePipelineCheckpoint(ckpt), options);
}
