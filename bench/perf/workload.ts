/**
 * The training-step benchmark behind `deno task perf` and `bench/lstm_bench.ts`: one
 * seeded classifier per implementation, a warm-up step, then N timed steps, with GPU
 * dispatches and tf kernels counted per step.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { createLstmClassifier, type LstmClassifier } from "../../src/model/mod.ts";
import { SeededRng } from "../../src/data/mod.ts";
import {
  AdamWWebGpu,
  installDispatchCounter,
  type ShaderWarmUp,
  warmUpWebGpuShaders,
} from "../../src/kernels/mod.ts";

const isWebGpuBackendActive = () => tf.getBackend() === "webgpu";

/** A benchmark workload: the shapes of one training step. */
export interface PerfWorkload {
  readonly name: string;
  readonly batch: number;
  readonly steps: number;
  readonly features: number;
  readonly hidden: number;
  readonly layers: number;
  readonly bidirectional: boolean;
  readonly classes: number;
}

/**
 * The named workloads. `W` is the issue's: batch 64, 128 steps, 105 features, hidden 128,
 * 2 bidirectional layers, 5 classes. `W-small` keeps the features, layers and classes and
 * shrinks the rest: batch 16, 32 steps, hidden 32. `W-tiny` (batch 4, 8 steps, 12
 * features, hidden 8, 1 layer) exists for smoke tests and benches on slow adapters.
 */
export const PERF_WORKLOADS: Readonly<Record<string, PerfWorkload>> = Object.freeze({
  "W": {
    name: "W",
    batch: 64,
    steps: 128,
    features: 105,
    hidden: 128,
    layers: 2,
    bidirectional: true,
    classes: 5,
  },
  "W-small": {
    name: "W-small",
    batch: 16,
    steps: 32,
    features: 105,
    hidden: 32,
    layers: 2,
    bidirectional: true,
    classes: 5,
  },
  "W-tiny": {
    name: "W-tiny",
    batch: 4,
    steps: 8,
    features: 12,
    hidden: 8,
    layers: 1,
    bidirectional: true,
    classes: 5,
  },
});

/** The implementations a step can use (`--lstm-impl`). */
export type PerfImpl = "layers" | "fused";

/** Timings and counts of one implementation. */
export interface ImplPerf {
  /** Median wall time of the timed steps (ms), each ending with a read of the loss. */
  readonly medianMs: number;
  /** Median CPU time of the timed steps (ms, all threads), when a CPU clock was given. */
  readonly cpuMs?: number;
  /** The first (warm-up) step: shader compiles, pipeline creation, first uploads. */
  readonly warmupMs: number;
  /** Shaders compiled ahead of the first step (`warmUpWebGpuShaders`), when asked for. */
  readonly shaderWarmUp?: ShaderWarmUp;
  /** Every timed step (ms). */
  readonly stepsMs: readonly number[];
  /** `dispatchWorkgroups` calls in one step; null off WebGPU. */
  readonly dispatchesPerStep: number | null;
  /** tf kernels in one step (`tf.profile`; a custom WebGPU program is not one); -1 if skipped. */
  readonly kernelsPerStep: number;
  /** Which optimizer ran. */
  readonly optimizer: string;
  /** LSTM + projection FLOPs of one step (forward + backward, model count). */
  readonly gflopPerStep: number;
  /** `gflopPerStep` / median time. */
  readonly gflops: number;
  /** Loss at the warm-up step and after the last step (training must move it). */
  readonly lossFirst: number;
  readonly lossLast: number;
  /** Host memory peak while this implementation ran, when the caller can measure it. */
  readonly peakMemoryMb?: number;
}

/** Options of {@link measureTrainingStep}. */
export interface MeasureOptions {
  /** Timed steps after the warm-up (default 5). */
  readonly steps?: number;
  /** Seed of the weights and the synthetic batch (default 1). */
  readonly seed?: number;
  /** Learning rate (default 1e-3). */
  readonly lr?: number;
  /**
   * Compile the step's WebGPU shaders on every core before the first step (a throwaway
   * model, tfjs' compile-only mode); on a software adapter only.
   */
  readonly warmUpShaders?: boolean;
  /** Skip the extra profiled step that counts tf kernels (it costs one more step). */
  readonly skipKernelCount?: boolean;
  /** Called before the warm-up (e.g. to reset a peak-memory counter). */
  readonly beforeRun?: () => void;
  /** Returns the peak memory (MB) since `beforeRun`; sampled after the last step. */
  readonly peakMemoryMb?: () => number | undefined;
  /** CPU time of the process in ms (all threads), for `cpuMs`. */
  readonly cpuClock?: () => number;
  /** Progress callback: (label, ms). */
  readonly onStep?: (label: string, ms: number) => void;
}

/**
 * Model FLOPs of one LSTM training step (forward + backward; multiply-add = 2): per layer
 * and direction the projection `2*B*T*In*4H` plus the recurrence `2*B*T*H*4H`, times 3
 * (forward, input-side and weight-side gradients). The small head is left out.
 */
export function lstmStepFlops(w: PerfWorkload): number {
  const dirs = w.bidirectional ? 2 : 1;
  let flops = 0;
  for (let l = 0; l < w.layers; l++) {
    const inSize = l === 0 ? w.features : dirs * w.hidden;
    flops += 3 * dirs * 2 * w.batch * w.steps * 4 * w.hidden * (inSize + w.hidden);
  }
  return flops;
}

/**
 * A seeded synthetic batch: standard-normal features, pre-padded lengths drawn in
 * [steps/2, steps], uniform labels. Returns host arrays (no tensors).
 */
export function syntheticBatch(w: PerfWorkload, seed: number): {
  x: Float32Array;
  mask: Float32Array;
  labels: Int32Array;
} {
  const rng = new SeededRng(seed);
  const rand = () => rng.next();
  const x = new Float32Array(w.batch * w.steps * w.features);
  for (let i = 0; i < x.length; i += 2) {
    const u = Math.max(rand(), 1e-12);
    const r = Math.sqrt(-2 * Math.log(u));
    const a = 2 * Math.PI * rand();
    x[i] = r * Math.cos(a);
    if (i + 1 < x.length) x[i + 1] = r * Math.sin(a);
  }
  const mask = new Float32Array(w.batch * w.steps);
  const labels = new Int32Array(w.batch);
  const minLen = Math.max(1, Math.ceil(w.steps / 2));
  for (let b = 0; b < w.batch; b++) {
    const len = minLen + Math.floor(rand() * (w.steps - minLen + 1));
    for (let t = w.steps - len; t < w.steps; t++) mask[b * w.steps + t] = 1;
    labels[b] = Math.floor(rand() * w.classes);
  }
  return { x, mask, labels };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A ready-to-run training step (see {@link createTrainingStep}). */
export interface TrainingStep {
  /** Runs forward, backward and the optimizer update; resolves with the loss (a sync point). */
  step(): Promise<number>;
  /** Enqueues one step without reading anything back (e.g. in tfjs' compile-only mode). */
  enqueue(): void;
  /** Which optimizer runs. */
  readonly optimizer: string;
  /** Frees the model, the optimizer and the batch. */
  dispose(): void;
}

/**
 * Builds a seeded classifier (dropout 0, last pooling) for `w` with `impl`, a synthetic
 * batch and an optimizer on the active backend: the fused WebGPU AdamW for `fused` on
 * webgpu, `tf.train.adam` (tfjs' op-by-op optimizer, what a tfjs user gets) otherwise.
 *
 * @example
 * ```ts
 * const s = createTrainingStep(PERF_WORKLOADS["W-tiny"], "fused");
 * await s.step();
 * s.dispose();
 * ```
 */
export function createTrainingStep(
  w: PerfWorkload,
  impl: PerfImpl,
  seed = 1,
  lr = 1e-3,
): TrainingStep {
  const model: LstmClassifier = createLstmClassifier({
    inputSize: w.features,
    hiddenSize: w.hidden,
    numLayers: w.layers,
    bidirectional: w.bidirectional,
    dropout: 0,
    pooling: "last",
    numClasses: w.classes,
    lstmImpl: impl,
  }, { seed });
  const vars = model.namedVariables.map((v) => v.variable);
  const fusedOpt = impl === "fused" && isWebGpuBackendActive()
    ? new AdamWWebGpu(vars, { weightDecay: 0 })
    : null;
  const adam = fusedOpt ? null : tf.train.adam(lr);
  const batch = syntheticBatch(w, seed + 1);
  const x = tf.tensor3d(batch.x, [w.batch, w.steps, w.features]);
  const mask = tf.tensor2d(batch.mask, [w.batch, w.steps]);
  const oneHot = tf.tidy(() => tf.oneHot(tf.tensor1d(batch.labels, "int32"), w.classes));
  const run = () =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy(oneHot, model.apply(x, mask)) as tf.Scalar,
        vars,
      );
      if (fusedOpt) fusedOpt.applyGradients(vars.map((v) => grads[v.name]), lr);
      else adam!.applyGradients(grads as Parameters<tf.AdamOptimizer["applyGradients"]>[0]);
      return value;
    });
  return {
    optimizer: fusedOpt ? "fused AdamW (WebGPU, 2 dispatches/tensor)" : "tf.train.adam",
    enqueue() {
      run().dispose();
    },
    async step() {
      const loss = run();
      const v = (await loss.data())[0];
      loss.dispose();
      return v;
    },
    dispose() {
      fusedOpt?.dispose();
      adam?.dispose();
      tf.dispose([x, mask, oneHot]);
      model.dispose();
    },
  };
}

/**
 * Trains a fresh seeded classifier with `impl` ({@link createTrainingStep}) for 1 warm-up
 * + `steps` steps on the active backend and reports timings and counts.
 *
 * @example
 * ```ts
 * const perf = await measureTrainingStep(PERF_WORKLOADS["W-small"], "fused", { steps: 5 });
 * console.log(perf.medianMs, perf.dispatchesPerStep);
 * ```
 */
export async function measureTrainingStep(
  w: PerfWorkload,
  impl: PerfImpl,
  options: MeasureOptions = {},
): Promise<ImplPerf> {
  const steps = options.steps ?? 5;
  if (!Number.isInteger(steps) || steps < 1) {
    throw new RangeError(
      `Cannot measure ${impl}: steps must be an integer >= 1, received ${steps}`,
    );
  }
  const onGpu = isWebGpuBackendActive();
  options.beforeRun?.();
  let shaderWarmUp: ShaderWarmUp | undefined;
  if (options.warmUpShaders && onGpu) {
    shaderWarmUp = await warmUpWebGpuShaders(() => {
      const throwaway = createTrainingStep(w, impl, (options.seed ?? 1) + 7, options.lr ?? 1e-3);
      try {
        throwaway.enqueue();
      } finally {
        throwaway.dispose();
      }
    });
    options.onStep?.(`${impl} shader warm-up (${shaderWarmUp.shaders} shaders)`, shaderWarmUp.ms);
  }
  const run = createTrainingStep(w, impl, options.seed ?? 1, options.lr ?? 1e-3);
  const counter = onGpu ? installDispatchCounter() : null;
  try {
    let t0 = performance.now();
    const lossFirst = await run.step();
    const warmupMs = performance.now() - t0;
    options.onStep?.(`${impl} warm-up`, warmupMs);
    const stepsMs: number[] = [];
    const cpuMs: number[] = [];
    let dispatches: number | null = null;
    let lossLast = lossFirst;
    for (let s = 0; s < steps; s++) {
      counter?.reset();
      const c0 = options.cpuClock?.() ?? 0;
      t0 = performance.now();
      lossLast = await run.step();
      const ms = performance.now() - t0;
      if (options.cpuClock) cpuMs.push(options.cpuClock() - c0);
      if (counter) dispatches = counter.count;
      stepsMs.push(ms);
      options.onStep?.(`${impl} step ${s + 1}`, ms);
    }
    let kernelsPerStep = -1;
    if (!options.skipKernelCount) {
      const info = await tf.profile(async () => {
        lossLast = await run.step();
      });
      kernelsPerStep = info.kernels.length;
    }
    const peak = options.peakMemoryMb?.();
    const medianMs = median(stepsMs);
    const flops = lstmStepFlops(w);
    return {
      medianMs,
      ...(options.cpuClock ? { cpuMs: median(cpuMs) } : {}),
      warmupMs,
      ...(shaderWarmUp ? { shaderWarmUp } : {}),
      stepsMs,
      dispatchesPerStep: dispatches,
      kernelsPerStep,
      optimizer: run.optimizer,
      gflopPerStep: flops / 1e9,
      gflops: flops / 1e9 / (medianMs / 1000),
      lossFirst,
      lossLast,
      ...(peak === undefined ? {} : { peakMemoryMb: peak }),
    };
  } finally {
    counter?.uninstall();
    run.dispose();
  }
}
