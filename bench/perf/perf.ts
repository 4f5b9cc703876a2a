/**
 * `deno task perf`: times LSTM training steps of each implementation in one process and
 * prints one JSON line (with `--json`) or a short table.
 *
 * @module
 */
import { parseArgs } from "#args";
import * as tf from "@tensorflow/tfjs";
import { parseDevice, selectBackend } from "../../src/runtime/mod.ts";
import { chooseLstmKernel } from "../../src/model/mod.ts";
import { startCpuKernels } from "../../src/kernels/mod.ts";
import { integerFlag } from "../../cli/_cli.ts";
import { type ImplPerf, measureTrainingStep, PERF_WORKLOADS, type PerfImpl } from "./workload.ts";
import { peakRssMb, resetPeakRss, timeNumpyStep } from "./reference_deno.ts";

// fused first: its peak-memory figure is then not inflated by buffers tfjs pooled for layers.
const IMPLS: readonly PerfImpl[] = ["fused", "layers"];
const BACKENDS = ["webgpu", "wasm", "cpu"];

const HELP = `deno task perf [flags]

Times LSTM classifier training steps (forward, backward, optimizer update) of each
implementation in one process: a warm-up step, then N timed steps each, then one profiled
step that counts tf kernels.

Flags:
  --workload W|W-small|W-tiny  W: batch 64, 128 steps, 105 features, hidden 128, 2 layers,
                             bidirectional, 5 classes. W-small: batch 16, 32 steps, 105
                             features, hidden 32, 2 bidirectional layers, 5 classes.
                             W-tiny: batch 4, 8 steps, 12 features, hidden 8, 1 layer
                             (smoke test). Default W-small.
  --backend webgpu|wasm|cpu  tfjs backend (cpu = wasm, as everywhere in this toolkit;
                             default webgpu)
  --steps N                  timed steps per implementation (default 5)
  --impls LIST               comma-separated subset of fused, layers, run in the order
                             given (default fused,layers: memory tfjs pools for one
                             implementation stays in the process and counts in the next
                             one's peak)
  --numpy                    also time a numpy forward + BPTT + Adam step (python3, one
                             BLAS thread unless OPENBLAS_NUM_THREADS is set)
  --no-kernel-count          skip the profiled step that counts tf kernels
  --json                     print one JSON line instead of a table
  -h, --help                 print this help

Output (--json): {"workload","backend","adapter","isFallbackAdapter","steps","impls":
{"layers":{"medianMs","warmupMs","stepsMs","dispatchesPerStep","kernelsPerStep",
"optimizer","gflopPerStep","gflops","lossFirst","lossLast","peakMemoryMb"},"fused":{..}},
"speedup","numpy":{"medianMs","warmupMs","numpyVersion"}}
dispatchesPerStep counts GPUComputePassEncoder.dispatchWorkgroups calls (null off WebGPU);
peakMemoryMb is the process's peak RSS (Linux VmHWM, reset before each implementation).
`;

function parseFlags(args: string[]) {
  try {
    return parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        workload: { type: "string", default: "W-small" },
        backend: { type: "string", default: "webgpu" },
        steps: { type: "string", default: "5" },
        impls: { type: "string", default: IMPLS.join(",") },
        numpy: { type: "boolean", default: false },
        "no-kernel-count": { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (cause) {
    throw new TypeError(
      `Cannot parse the perf flags: ${(cause as Error).message}; allowed flags: --workload, ` +
        `--backend, --steps, --impls, --numpy, --no-kernel-count, --json, --help (see --help)`,
      { cause },
    );
  }
}

/** Parses and validates the flags into a run plan. */
export function parsePerfArgs(args: string[]) {
  const { values } = parseFlags(args);
  const workload = PERF_WORKLOADS[values.workload];
  if (!workload) {
    throw new RangeError(
      `Cannot use --workload ${JSON.stringify(values.workload)}: expected one of ${
        Object.keys(PERF_WORKLOADS).join(", ")
      }`,
    );
  }
  if (!BACKENDS.includes(values.backend)) {
    throw new RangeError(
      `Cannot use --backend ${JSON.stringify(values.backend)}: expected one of ${
        BACKENDS.join(", ")
      }`,
    );
  }
  const steps = integerFlag("steps", values.steps, 1);
  const impls = (values.impls as string).split(",").map((s: string) => s.trim());
  for (const i of impls) {
    if (!IMPLS.includes(i as PerfImpl)) {
      throw new RangeError(
        `Cannot use --impls ${JSON.stringify(values.impls)}: ${JSON.stringify(i)} is not one of ${
          IMPLS.join(", ")
        }`,
      );
    }
  }
  return {
    help: values.help,
    workload,
    backend: values.backend,
    steps,
    impls: impls as PerfImpl[],
    numpy: values.numpy,
    kernelCount: !values["no-kernel-count"],
    json: values.json,
  };
}

async function main(args: string[]): Promise<number> {
  let plan;
  try {
    plan = parsePerfArgs(args);
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  if (plan.help) {
    console.log(HELP);
    return 0;
  }
  try {
    const info = await selectBackend(parseDevice(plan.backend));
    const log = (s: string) => {
      if (!plan.json) console.log(s);
      else console.error(s);
    };
    log(`backend ${info.backend}: ${info.reason}`);
    const lstm = chooseLstmKernel("fused", plan.workload.hidden);
    if (lstm.kernel === "cpu") {
      const cpu = await startCpuKernels();
      log(`fused LSTM: ${lstm.description}, ${cpu.liveThreads} live`);
    } else {
      log(`fused LSTM: ${lstm.description}`);
    }
    const impls: Record<string, ImplPerf> = {};
    for (const impl of plan.impls) {
      impls[impl] = await measureTrainingStep(plan.workload, impl, {
        steps: plan.steps,
        skipKernelCount: !plan.kernelCount,
        beforeRun: () => void resetPeakRss(),
        peakMemoryMb: peakRssMb,
        onStep: (label, ms) => log(`  ${label}: ${ms.toFixed(1)} ms`),
      });
    }
    const speedup = impls.layers && impls.fused
      ? impls.layers.medianMs / impls.fused.medianMs
      : undefined;
    const numpy = plan.numpy ? await timeNumpyStep(plan.workload, plan.steps) : undefined;
    const result = {
      workload: plan.workload.name,
      shape: plan.workload,
      backend: tf.getBackend(),
      adapter: info.adapter,
      isFallbackAdapter: info.isFallbackAdapter,
      steps: plan.steps,
      impls,
      ...(speedup === undefined ? {} : { speedup }),
      ...(numpy === undefined ? {} : { numpy }),
    };
    if (plan.json) {
      console.log(JSON.stringify(result));
    } else {
      for (const [name, p] of Object.entries(impls)) {
        console.log(
          `${name}: median ${p.medianMs.toFixed(1)} ms, warm-up ${p.warmupMs.toFixed(0)} ms, ` +
            `${p.dispatchesPerStep ?? "-"} dispatches, ${p.kernelsPerStep} tf kernels, ` +
            `${p.gflops.toFixed(2)} GFLOP/s, peak ${p.peakMemoryMb?.toFixed(0) ?? "?"} MB`,
        );
      }
      if (speedup !== undefined) console.log(`speedup fused vs layers: ${speedup.toFixed(2)}x`);
      if (numpy) console.log(`numpy: median ${numpy.medianMs.toFixed(1)} ms`);
    }
    return 0;
  } catch (e) {
    console.error(`perf failed: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
