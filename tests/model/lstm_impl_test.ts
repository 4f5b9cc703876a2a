import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import assert from "#assert";
import { chooseLstmKernel, type LstmImpl, lstmLayer } from "../../src/model/mod.ts";
import { lstmLayerWebGpu, setCpuKernelThreads, stopCpuKernels } from "../../src/kernels/mod.ts";

Deno.test("chooseLstmKernel() picks the kernel by implementation, backend and hidden size", async (t) => {
  const cases: [LstmImpl, number, string, string, RegExp][] = [
    ["fused", 128, "webgpu", "webgpu", /fused WebGPU LSTM kernels/],
    ["fused", 256, "webgpu", "webgpu", /fused WebGPU/],
    ["fused", 257, "webgpu", "tf-ops", /hidden sizes 1\.\.256, not 257/],
    [
      "fused",
      128,
      "wasm",
      "cpu",
      /CPU LSTM kernels \(src\/kernels, WebAssembly SIMD\) on 3 threads/,
    ],
    ["fused", 300, "cpu", "cpu", /CPU LSTM kernels/],
    ["layers", 128, "webgpu", "layers", /tf\.layers reference/],
    ["layers", 128, "wasm", "layers", /tf\.layers reference/],
  ];
  setCpuKernelThreads(3);
  try {
    for (const [impl, hidden, backend, kernel, description] of cases) {
      await t.step(`${impl} hidden ${hidden} on ${backend}`, () => {
        const choice = chooseLstmKernel(impl, hidden, backend);
        assert.equal(choice.kernel, kernel);
        assert.match(choice.description, description);
      });
    }
  } finally {
    stopCpuKernels();
    setCpuKernelThreads(navigator.hardwareConcurrency);
  }
  assert.throws(
    () => chooseLstmKernel("cudnn" as LstmImpl, 8, "wasm"),
    (e: unknown) =>
      e instanceof RangeError &&
      e.message ===
        'Cannot run the LSTM layer with impl "cudnn": expected one of fused, layers',
  );
});

Deno.test("lstmLayer() runs the chosen kernel, and the WebGPU kernel refuses another backend", async () => {
  await tf.setBackend("wasm");
  await tf.ready();
  const v = (s: number[], seed: number) =>
    tf.variable(tf.randomUniform(s, -0.5, 0.5, "float32", seed));
  const w = { forward: { kernel: v([3, 16], 1), recurrent: v([4, 16], 2), bias: v([16], 3) } };
  const x = tf.randomUniform([2, 5, 3], -1, 1, "float32", 4) as tf.Tensor3D;
  const mask = tf.ones([2, 5]) as tf.Tensor2D;
  try {
    assert.throws(
      () => lstmLayerWebGpu(x, mask, w),
      (e: unknown) =>
        e instanceof Error &&
        e.message ===
          'Cannot run the WebGPU LSTM layer: the active tfjs backend is "wasm", expected "webgpu"',
    );
    const fused = lstmLayer(x, mask, w);
    const layers = lstmLayer(x, mask, w, { impl: "layers" });
    const a = fused.dataSync(), b = layers.dataSync();
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5);
    tf.dispose([fused, layers]);
  } finally {
    tf.dispose([x, mask, ...Object.values(w.forward)]);
    stopCpuKernels();
  }
});
