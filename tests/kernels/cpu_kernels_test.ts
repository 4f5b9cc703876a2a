import assert from "#assert";
import { setCpuKernelThreads } from "../../src/kernels/mod.ts";

Deno.test("setCpuKernelThreads() rejects counts outside 1..57", () => {
  for (const n of [0, -1, 1.5, 58, Number.NaN]) {
    assert.throws(() => setCpuKernelThreads(n), {
      name: "RangeError",
      message: `Cannot set the CPU kernel threads to ${n}: expected an integer in 1..57`,
    });
  }
});

// A script that trains nothing but runs the CPU LSTM on 2 threads and then just ends: the
// workers must not keep the process alive (they leave after IDLE_MS without work).
const SCRIPT = `
import * as tf from "@tensorflow/tfjs";
import { cpuKernelsInfo, lstmLayerCpu, startCpuKernels } from "${
  new URL("../../src/kernels/mod.ts", import.meta.url).href
}";
await tf.setBackend("cpu");
const info = await startCpuKernels();
const v = (s) => tf.randomUniform(s, -0.5, 0.5, "float32", 1);
const w = { forward: { kernel: v([3, 16]), recurrent: v([4, 16]), bias: v([16]) } };
lstmLayerCpu(v([4, 5, 3]), tf.ones([4, 5]), w).dataSync();
console.log(JSON.stringify({ live: cpuKernelsInfo().liveThreads, threads: info.threads }));
`;

Deno.test("the CPU kernels' workers leave when idle, so a script that used them exits", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cpu-kernels-exit-" });
  try {
    await Deno.writeTextFile(`${dir}/script.ts`, SCRIPT);
    const started = performance.now();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--config",
        new URL("../../deno.json", import.meta.url).pathname,
        `${dir}/script.ts`,
      ],
      env: { DENO_NO_UPDATE_CHECK: "1" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const out = await child.output();
    clearTimeout(timer);
    const seconds = (performance.now() - started) / 1000;
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, `${text}${new TextDecoder().decode(out.stderr)}`);
    const info = JSON.parse(text.trim().split("\n").pop()!);
    assert.equal(info.live, info.threads, "the workers were live while it ran");
    console.log(`  ${info.threads} threads; the process exited after ${seconds.toFixed(1)} s`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
