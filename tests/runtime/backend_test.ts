import assert from "#assert";
import { DEVICE_CHOICES, parseDevice, selectBackend } from "../../src/runtime/mod.ts";
import { webGpuTest } from "../_webgpu.ts";

Deno.test("parseDevice() maps the pipeline's device names to backends", async (t) => {
  const cases: [string | undefined, string][] = [
    [undefined, "auto"],
    ["", "auto"],
    ["cuda", "gpu"],
    ["cuda:0", "gpu"],
    ["GPU", "gpu"],
    ["webgpu", "webgpu"],
    ["cpu", "wasm"],
    ["tfjs-cpu", "cpu"],
  ];
  for (const [input, expected] of cases) {
    await t.step(`${input} -> ${expected}`, () => assert.equal(parseDevice(input), expected));
  }
});

Deno.test("parseDevice() rejects an unknown device and lists the choices", () => {
  assert.throws(() => parseDevice("tpu"), {
    name: "RangeError",
    message: new RegExp(`Cannot use --device "tpu": expected one of ${DEVICE_CHOICES.join(", ")}`),
  });
});

Deno.test("selectBackend() on cpu starts wasm and says why", async () => {
  const tf = await import("@tensorflow/tfjs");
  const info = await selectBackend("wasm");
  // tfjs-wasm's own threads stay off (the CPU kernels use the cores; its threaded build breaks
  // in a minified page).
  assert.equal(await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT"), false);
  assert.equal(info.backend, "wasm");
  assert.equal(info.runtime, "deno");
  assert.ok(Object.isFrozen(info));
  assert.match(info.reason, /wasm/);
});

// "auto" probes the WebGPU adapter: that runs in a child process (tests/_webgpu.ts).
webGpuTest(import.meta.url, {
  name: "selectBackend() on auto never picks a software WebGPU adapter",
  async fn() {
    const info = await selectBackend("auto");
    if (info.adapter !== null && info.isFallbackAdapter) {
      assert.equal(info.backend, "wasm");
      assert.match(info.reason, /software fallback/);
    } else if (info.adapter === null) {
      assert.equal(info.backend, "wasm");
    } else {
      assert.equal(info.backend, "webgpu");
    }
  },
});

webGpuTest(import.meta.url, {
  name: "selectBackend() on a software WebGPU adapter makes tfjs use its small matmul shader",
  async fn() {
    const tf = await import("@tensorflow/tfjs");
    let info;
    try {
      info = await selectBackend("webgpu");
    } catch {
      console.warn("\n*** SKIPPING the WebGPU matmul-program check: no WebGPU adapter ***\n");
      return;
    }
    // 2 = MatMulSmallOutputSizeProgram: tfjs' MatMulPackedProgram compiled for 21 s of a cold
    // W step on llvmpipe; -1 = tfjs' own choice on a hardware adapter.
    assert.equal(tf.env().get("WEBGPU_MATMUL_PROGRAM_TYPE"), info.isFallbackAdapter ? 2 : -1);
    await selectBackend("wasm");
  },
});
