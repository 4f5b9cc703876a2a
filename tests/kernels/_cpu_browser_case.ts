/**
 * The CPU-kernel run of lstm_cpu_browser_test.ts, shared by its Deno and browser sides: one
 * bidirectional CPU LSTM layer forward and backward with a given number of threads.
 */
import * as tf from "@tensorflow/tfjs";
import {
  cpuKernelsInfo,
  lstmLayerCpu,
  setCpuKernelThreads,
  startCpuKernels,
  stopCpuKernels,
} from "../../src/kernels/mod.ts";

/** What one run reports. */
export interface CpuRun {
  liveThreads: number;
  sharedMemory: boolean;
  loss: number[];
  grads: number[][];
}

const B = 13, T = 9, IN = 7, H = 12;

/** Runs the layer with `threads` threads on the active tfjs backend. */
export async function runCpuCase(threads: number): Promise<CpuRun> {
  setCpuKernelThreads(threads);
  await startCpuKernels();
  const v = (shape: number[], seed: number) =>
    tf.variable(tf.randomUniform(shape, -0.5, 0.5, "float32", seed));
  const dir = (seed: number) => ({
    kernel: v([IN, 4 * H], seed),
    recurrent: v([H, 4 * H], seed + 1),
    bias: v([4 * H], seed + 2),
  });
  const w = { forward: dir(1), backward: dir(4) };
  const x = tf.tensor3d(
    Float32Array.from({ length: B * T * IN }, (_, i) => ((i * 7919) % 2003) / 1001.5 - 1),
    [B, T, IN],
  );
  // Pre-padded rows of lengths 0..T.
  const m = new Float32Array(B * T);
  for (let b = 0; b < B; b++) for (let t = T - (b % (T + 1)); t < T; t++) m[b * T + t] = 1;
  const mask = tf.tensor2d(m, [B, T]);
  const vars = [w.forward, w.backward].flatMap((d) => [d.kernel, d.recurrent, d.bias]);
  const { value, grads } = tf.variableGrads(
    () => tf.sum(tf.square(lstmLayerCpu(x, mask, w))),
    vars,
  );
  const info = cpuKernelsInfo();
  const out = {
    liveThreads: info.liveThreads,
    sharedMemory: info.sharedMemory,
    loss: Array.from(value.dataSync()),
    grads: vars.map((v) => Array.from(grads[v.name].dataSync())),
  };
  tf.dispose([value, x, mask, ...Object.values(grads), ...vars]);
  stopCpuKernels();
  return out;
}
