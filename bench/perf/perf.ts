/**
 * `deno task perf`: times LSTM training steps of each implementation in one process (and the
 * numpy and PyTorch references in child processes), or with `--epoch` one full training
 * epoch; prints one JSON line (with `--json`) or a short report.
 *
 * @module
 */
import { parseArgs } from "#args";
import * as tf from "@tensorflow/tfjs";
import { parseDevice, type RuntimeInfo, selectBackend } from "../../src/runtime/mod.ts";
import { chooseLstmKernel } from "../../src/model/mod.ts";
import { cpuKernelsInfo, startCpuKernels } from "../../src/kernels/mod.ts";
import { type ImplPerf, measureTrainingStep, PERF_WORKLOADS, type PerfImpl } from "./workload.ts";
import {
  findTorchPython,
  type NumpyPerf,
  peakRssMb,
  processCpuMs,
  resetPeakRss,
  timeNumpyStep,
  timeTorchStep,
  type TorchPerf,
} from "./reference_deno.ts";
import {
  epochData,
  type EpochRun,
  timeEpoch,
  timeTorchEpoch,
  type TorchEpoch,
} from "./epoch_deno.ts";

// fused first: its peak-memory figure is then not inflated by buffers tfjs pooled for layers.
const IMPLS: readonly PerfImpl[] = ["fused", "layers"];
const BACKENDS = ["auto", "webgpu", "wasm", "cpu"];
/** Windows in the real Component X training split. */
const REAL_TRAIN_ROWS = 23550;

const HELP = `deno task perf [flags]

Times LSTM classifier training steps (forward, backward, optimizer update) of each
implementation in one process: a warm-up step, then N timed steps each, then one profiled
step that counts tf kernels. With --epoch, times one full training epoch instead.

Flags:
  --workload W|W-small|W-tiny  W: batch 64, 128 steps, 105 features, hidden 128, 2 layers,
                             bidirectional, 5 classes. W-small: batch 16, 32 steps, 105
                             features, hidden 32, 2 bidirectional layers, 5 classes.
                             W-tiny: batch 4, 8 steps, 12 features, hidden 8, 1 layer
                             (smoke test). Default W-small.
  --backend auto|webgpu|wasm|cpu  tfjs backend (cpu = wasm, as everywhere in this toolkit;
                             auto = what \`deno task train\` picks; default webgpu, and auto
                             with --epoch)
  --steps N                  timed steps per implementation (default 5)
  --impls LIST               comma-separated subset of fused, layers, run in the order
                             given (default fused,layers: memory tfjs pools for one
                             implementation stays in the process and counts in the next
                             one's peak)
  --numpy                    also time a numpy forward + BPTT + Adam step (python3, one
                             BLAS thread unless OPENBLAS_NUM_THREADS is set)
  --torch                    also time PyTorch's step (nn.LSTM on packed sequences, the same
                             head, Adam) with 1 thread and with as many as the CPU kernels
                             use; with --epoch, PyTorch's epoch. Python: $TORCH_PYTHON, else
                             ~/.cache/component-x-torch/bin/python, else python3; skipped
                             with a note when none imports torch
  --epoch                    time one full epoch of \`deno task train\` with its default
                             settings on generated data (transformed as train does), without
                             and with --bucket-by-length
  --rows N                   training windows for --epoch (default ${REAL_TRAIN_ROWS}, the real
                             training split)
  --val-rows N               validation windows for --epoch (default 1024)
  --no-shader-warm-up        on a software WebGPU adapter, do not compile the step's shaders
                             on every core before the first step (warmUpWebGpuShaders)
  --no-kernel-count          skip the profiled step that counts tf kernels
  --json                     print one JSON line instead of a report
  -h, --help                 print this help

Output (--json), steps: {"workload","shape","backend","adapter","isFallbackAdapter","lstm",
"cpuKernels","steps","impls":{"fused":{"medianMs","cpuMs","warmupMs","shaderWarmUp":
{"shaders","devices","ms"},"stepsMs",
"dispatchesPerStep","kernelsPerStep","optimizer","gflopPerStep","gflops","lossFirst",
"lossLast","peakMemoryMb"},"layers":{..}},"speedup","numpy":{"medianMs","cpuMs","warmupMs",
"numpyVersion"},"torch":[{"medianMs","cpuMs","warmupMs","threads","torchVersion","python"}],
"ratios":{"fusedVsNumpy","fusedVsNumpyCpu","torchVsFused","torchVsFusedCpu"}}
Output (--json), --epoch: {"mode":"epoch","rows","valRows","meanLength","backend","lstm",
"cpuKernels","epochs":[{"bucketByLength","epochSeconds","cpuSeconds","steps","trainLoss",
"valLoss","valMacroF1"}],"torch":{"epochSeconds","cpuSeconds","threads",..},"ratios":{..}}
dispatchesPerStep counts GPUComputePassEncoder.dispatchWorkgroups calls (null off WebGPU);
peakMemoryMb is the process's peak RSS (Linux VmHWM, reset before each implementation);
cpuMs is CPU time of the process (all threads) per step; ratios are wall-time ratios
(…Cpu: CPU time) measured in this run: fusedVsNumpy = fused / numpy, torchVsFused =
torch (same threads) / fused, i.e. how many times faster fused is; torchBestVsFused uses
PyTorch's faster thread count. PyTorch runs with OMP_WAIT_POLICY=PASSIVE unless the
environment sets it (its spinning threads collapse on a loaded machine).
`;

const FLAGS = [
  "--workload",
  "--backend",
  "--steps",
  "--impls",
  "--numpy",
  "--torch",
  "--epoch",
  "--rows",
  "--val-rows",
  "--no-shader-warm-up",
  "--no-kernel-count",
  "--json",
  "--help",
];

/** A flag's value as an integer >= `min`, or a RangeError naming the flag. */
function integerFlag(flag: string, value: string, min: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) {
    throw new RangeError(
      `Cannot use --${flag} ${JSON.stringify(value)}: expected an integer >= ${min}`,
    );
  }
  return n;
}

function parseFlags(args: string[]) {
  try {
    return parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        workload: { type: "string", default: "W-small" },
        backend: { type: "string" },
        steps: { type: "string", default: "5" },
        impls: { type: "string", default: IMPLS.join(",") },
        numpy: { type: "boolean", default: false },
        torch: { type: "boolean", default: false },
        epoch: { type: "boolean", default: false },
        rows: { type: "string", default: String(REAL_TRAIN_ROWS) },
        "val-rows": { type: "string", default: "1024" },
        "no-shader-warm-up": { type: "boolean", default: false },
        "no-kernel-count": { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (cause) {
    throw new TypeError(
      `Cannot parse the perf flags: ${(cause as Error).message}; allowed flags: ${
        FLAGS.join(", ")
      } (see --help)`,
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
  const backend = values.backend ?? (values.epoch ? "auto" : "webgpu");
  if (!BACKENDS.includes(backend)) {
    throw new RangeError(
      `Cannot use --backend ${JSON.stringify(backend)}: expected one of ${BACKENDS.join(", ")}`,
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
    backend,
    steps,
    impls: impls as PerfImpl[],
    numpy: values.numpy,
    torch: values.torch,
    epoch: values.epoch,
    rows: integerFlag("rows", values.rows, 1),
    valRows: integerFlag("val-rows", values["val-rows"], 1),
    kernelCount: !values["no-kernel-count"],
    warmUpShaders: !values["no-shader-warm-up"],
    json: values.json,
  };
}

type Plan = ReturnType<typeof parsePerfArgs>;
type Log = (line: string) => void;

/** Starts the CPU kernels' workers when the fused LSTM runs on them; says what runs. */
async function describeLstm(hidden: number, log: Log) {
  const lstm = chooseLstmKernel("fused", hidden);
  let cpuKernels = null;
  if (lstm.kernel === "cpu") {
    const info = await startCpuKernels();
    cpuKernels = {
      threads: info.threads,
      liveThreads: info.liveThreads,
      fusedMultiplyAdd: info.fusedMultiplyAdd,
    };
  }
  log(`fused LSTM: ${lstm.description}`);
  return { lstm: lstm.description, cpuKernels };
}

/** The threads PyTorch gets: 1, and as many as the CPU kernels use when that is more. */
function torchThreads(): number[] {
  const ours = chooseLstmKernel("fused", 8).kernel === "cpu" ? cpuKernelsInfo().threads : 1;
  return ours > 1 ? [1, ours] : [1];
}

async function findTorch(log: Log): Promise<string | null> {
  const { python, note } = await findTorchPython();
  log(python ? note : `*** SKIPPING the PyTorch reference: ${note} ***`);
  return python;
}

async function runSteps(plan: Plan, info: RuntimeInfo, log: Log) {
  const lstm = await describeLstm(plan.workload.hidden, log);
  const impls: Record<string, ImplPerf> = {};
  for (const impl of plan.impls) {
    impls[impl] = await measureTrainingStep(plan.workload, impl, {
      steps: plan.steps,
      skipKernelCount: !plan.kernelCount,
      warmUpShaders: plan.warmUpShaders,
      beforeRun: () => void resetPeakRss(),
      peakMemoryMb: peakRssMb,
      cpuClock: processCpuMs,
      onStep: (label, ms) => log(`  ${label}: ${ms.toFixed(1)} ms`),
    });
  }
  const speedup = impls.layers && impls.fused
    ? impls.layers.medianMs / impls.fused.medianMs
    : undefined;
  let numpy: NumpyPerf | undefined;
  if (plan.numpy) {
    numpy = await timeNumpyStep(plan.workload, plan.steps);
    log(`  numpy: ${numpy.medianMs.toFixed(1)} ms`);
  }
  let torch: TorchPerf[] | { skipped: string } | undefined;
  if (plan.torch) {
    const python = await findTorch(log);
    if (python) {
      torch = [];
      for (const threads of torchThreads()) {
        const t = await timeTorchStep(plan.workload, plan.steps, threads, python);
        log(`  torch, ${t.threads} thread(s): ${t.medianMs.toFixed(1)} ms`);
        torch.push(t);
      }
    } else {
      torch = { skipped: (await findTorchPython()).note };
    }
  }
  const fused = impls.fused;
  const sameThreads = Array.isArray(torch) ? torch[torch.length - 1] : undefined;
  const ratios = fused
    ? {
      ...(numpy
        ? {
          fusedVsNumpy: fused.medianMs / numpy.medianMs,
          fusedVsNumpyCpu: fused.cpuMs! / numpy.cpuMs,
        }
        : {}),
      ...(sameThreads && Array.isArray(torch)
        ? {
          torchVsFused: sameThreads.medianMs / fused.medianMs,
          torchVsFusedCpu: sameThreads.cpuMs / fused.cpuMs!,
          torchBestVsFused: Math.min(...torch.map((t) => t.medianMs)) / fused.medianMs,
        }
        : {}),
    }
    : {};
  return {
    workload: plan.workload.name,
    shape: plan.workload,
    backend: tf.getBackend(),
    adapter: info.adapter,
    isFallbackAdapter: info.isFallbackAdapter,
    ...lstm,
    steps: plan.steps,
    impls,
    ...(speedup === undefined ? {} : { speedup }),
    ...(numpy === undefined ? {} : { numpy }),
    ...(torch === undefined ? {} : { torch }),
    ratios,
  };
}

async function runEpochs(plan: Plan, info: RuntimeInfo, log: Log) {
  const lstm = await describeLstm(128, log);
  const t0 = performance.now();
  const data = epochData(plan.rows, plan.valRows);
  log(
    `generated ${plan.rows} + ${plan.valRows} windows (mean valid length ` +
      `${data.meanLength.toFixed(1)} of ${data.train.steps}) in ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const epochs: EpochRun[] = [];
  for (const bucketByLength of [false, true]) {
    log(`epoch, bucket-by-length ${bucketByLength ? "on" : "off"}:`);
    const run = await timeEpoch(data, bucketByLength, {}, log);
    log(`  ${run.epochSeconds.toFixed(1)} s (CPU ${run.cpuSeconds.toFixed(1)} s)`);
    epochs.push(run);
  }
  let torch: TorchEpoch | { skipped: string } | undefined;
  if (plan.torch) {
    const python = await findTorch(log);
    if (python) {
      const dir = await Deno.makeTempDir({ prefix: "perf-epoch-" });
      try {
        const threads = torchThreads();
        torch = await timeTorchEpoch(data, dir, python, threads[threads.length - 1]);
        log(`  torch epoch, ${torch.threads} thread(s): ${torch.epochSeconds.toFixed(1)} s`);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    } else {
      torch = { skipped: (await findTorchPython()).note };
    }
  }
  const [plain, bucketed] = epochs;
  const torchRun = torch && "epochSeconds" in torch ? torch : undefined;
  return {
    mode: "epoch",
    rows: plan.rows,
    valRows: plan.valRows,
    meanLength: data.meanLength,
    backend: tf.getBackend(),
    adapter: info.adapter,
    ...lstm,
    epochs,
    ...(torch === undefined ? {} : { torch }),
    ratios: {
      plainVsBucketed: plain.epochSeconds / bucketed.epochSeconds,
      ...(torchRun
        ? {
          torchVsPlain: torchRun.epochSeconds / plain.epochSeconds,
          torchVsBucketed: torchRun.epochSeconds / bucketed.epochSeconds,
        }
        : {}),
    },
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
  const json = plan.json;
  const log: Log = (s) => json ? console.error(s) : console.log(s);
  try {
    const info = await selectBackend(parseDevice(plan.backend));
    log(`backend ${info.backend}: ${info.reason}`);
    const result = plan.epoch ? await runEpochs(plan, info, log) : await runSteps(plan, info, log);
    if (json) {
      console.log(JSON.stringify(result));
    } else if ("impls" in result) {
      for (const [name, p] of Object.entries(result.impls)) {
        console.log(
          `${name}: median ${p.medianMs.toFixed(1)} ms (CPU ${p.cpuMs?.toFixed(0) ?? "?"} ms), ` +
            `warm-up ${p.warmupMs.toFixed(0)} ms, ${p.dispatchesPerStep ?? "-"} dispatches, ` +
            `${p.kernelsPerStep} tf kernels, ${p.gflops.toFixed(2)} GFLOP/s, ` +
            `peak ${p.peakMemoryMb?.toFixed(0) ?? "?"} MB`,
        );
      }
      if (result.speedup !== undefined) {
        console.log(`speedup fused vs layers: ${result.speedup.toFixed(2)}x`);
      }
      for (const [k, v] of Object.entries(result.ratios)) console.log(`${k}: ${v.toFixed(2)}`);
    } else {
      for (const e of result.epochs) {
        console.log(
          `epoch, bucket-by-length ${e.bucketByLength ? "on " : "off"}: ` +
            `${e.epochSeconds.toFixed(1)} s (CPU ${e.cpuSeconds.toFixed(1)} s), ` +
            `train loss ${e.trainLoss.toFixed(4)}, val loss ${e.valLoss.toFixed(4)}`,
        );
      }
      for (const [k, v] of Object.entries(result.ratios)) console.log(`${k}: ${v.toFixed(2)}`);
    }
    return 0;
  } catch (e) {
    console.error(`perf failed: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
