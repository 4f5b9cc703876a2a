/**
 * LSTM training-step benches: tf.layers (baseline) against the fused implementation, per
 * backend, on a small workload (W-tiny by default; set LSTM_BENCH_WORKLOAD=W-small for a
 * bigger one). WebGPU benches are registered only when an adapter exists. Each bench is a
 * full step: forward, backward, optimizer update, loss read back.
 *
 *   MESA_SHADER_CACHE_DIR=.cache/mesa deno bench -A bench/lstm_bench.ts
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import "@tensorflow/tfjs-backend-webgpu";
import { probeWebGpuAdapter } from "../src/runtime/mod.ts";
import {
  createTrainingStep,
  PERF_WORKLOADS,
  type PerfImpl,
  type TrainingStep,
} from "./perf/workload.ts";

const workloadName = Deno.env.get("LSTM_BENCH_WORKLOAD") ?? "W-tiny";
const workload = PERF_WORKLOADS[workloadName];
if (!workload) {
  throw new RangeError(
    `Cannot run the LSTM bench: LSTM_BENCH_WORKLOAD=${JSON.stringify(workloadName)} is not one of ${
      Object.keys(PERF_WORKLOADS).join(", ")
    }`,
  );
}

const backends = ["wasm"];
if (await probeWebGpuAdapter()) backends.push("webgpu");
else console.warn("\n*** No WebGPU adapter: only the wasm LSTM benches run ***\n");

const impls: PerfImpl[] = ["layers", "fused"];
const built = new Map<string, TrainingStep>();

async function stepFor(backend: string, impl: PerfImpl): Promise<TrainingStep> {
  if (tf.getBackend() !== backend) {
    await tf.setBackend(backend);
    await tf.ready();
  }
  const key = `${backend}/${impl}`;
  let s = built.get(key);
  if (!s) {
    s = createTrainingStep(workload, impl);
    await s.step(); // warm-up: shader compiles and first uploads stay out of the timing
    built.set(key, s);
  }
  return s;
}

for (const backend of backends) {
  for (const impl of impls) {
    Deno.bench({
      name: `${impl} ${backend}`,
      group: `LSTM training step, ${workload.name}, ${backend}`,
      baseline: impl === "layers",
      // Steps take 0.1-10 s on a software adapter: a few iterations are enough.
      n: 5,
      warmup: 1,
      async fn(b) {
        const s = await stepFor(backend, impl);
        b.start();
        await s.step();
        b.end();
      },
    });
  }
}
