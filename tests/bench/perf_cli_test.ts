import assert from "#assert";
import { hasPythonModule } from "../_python.ts";
import { findTorchPython } from "../../bench/perf/reference_deno.ts";

const PERF = new URL("../../bench/perf/perf.ts", import.meta.url).pathname;
const numpy = await hasPythonModule("numpy");
const torch = await findTorchPython();
if (!torch.python) {
  console.warn(`\n*** SKIPPING the PyTorch parts of perf_cli_test: ${torch.note} ***\n`);
}

async function perf(args: string[]): Promise<Record<string, unknown>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", PERF, ...args, "--json"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `perf ${args.join(" ")} failed:\n${err}`);
  if (!torch.python && args.includes("--torch")) assert.match(err, /\*\*\* SKIPPING the PyTorch/);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test({
  name: "deno task perf --torch --numpy times the references next to the CPU kernels",
  ignore: !numpy,
  async fn() {
    const r = await perf([
      "--workload",
      "W-tiny",
      "--backend",
      "wasm",
      "--impls",
      "fused",
      "--steps",
      "2",
      "--numpy",
      "--torch",
      "--no-kernel-count",
    ]) as {
      lstm: string;
      cpuKernels: { threads: number; liveThreads: number };
      impls: { fused: { medianMs: number; cpuMs: number } };
      numpy: { medianMs: number };
      torch: { threads: number; medianMs: number }[] | { skipped: string };
      ratios: Record<string, number>;
    };
    assert.match(r.lstm, /^CPU LSTM kernels/);
    assert.equal(r.cpuKernels.liveThreads, r.cpuKernels.threads);
    assert.ok(r.impls.fused.medianMs > 0 && r.impls.fused.cpuMs > 0);
    assert.ok(Math.abs(r.ratios.fusedVsNumpy - r.impls.fused.medianMs / r.numpy.medianMs) < 1e-9);
    if (torch.python) {
      assert.ok(Array.isArray(r.torch));
      const runs = r.torch as { threads: number; medianMs: number }[];
      const threads = runs.map((t) => t.threads);
      assert.deepEqual(threads, r.cpuKernels.threads > 1 ? [1, r.cpuKernels.threads] : [1]);
      const same = runs[runs.length - 1];
      assert.ok(Math.abs(r.ratios.torchVsFused - same.medianMs / r.impls.fused.medianMs) < 1e-9);
    } else {
      assert.match((r.torch as { skipped: string }).skipped, /TORCH_PYTHON/);
    }
  },
});

Deno.test("deno task perf --epoch trains one epoch without and with length bucketing", async () => {
  const r = await perf([
    "--epoch",
    "--rows",
    "96",
    "--val-rows",
    "32",
    "--backend",
    "wasm",
    "--torch",
  ]) as {
    mode: string;
    rows: number;
    epochs: { bucketByLength: boolean; steps: number; epochSeconds: number; trainLoss: number }[];
    torch?: { epochSeconds: number; trainLoss: number } | { skipped: string };
    ratios: Record<string, number>;
  };
  assert.equal(r.mode, "epoch");
  assert.equal(r.rows, 96);
  assert.deepEqual(r.epochs.map((e) => e.bucketByLength), [false, true]);
  for (const e of r.epochs) {
    assert.equal(e.steps, 2); // 96 rows in batches of 64
    assert.ok(e.epochSeconds > 0 && Number.isFinite(e.trainLoss));
  }
  if (torch.python) {
    const t = r.torch as { epochSeconds: number; trainLoss: number };
    assert.ok(t.epochSeconds > 0 && Number.isFinite(t.trainLoss));
    assert.ok(r.ratios.torchVsPlain > 0);
  }
});
