import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import assert from "#assert";
import { useWebGpuOrSkip, webGpuTest } from "../_webgpu.ts";
import {
  createLstmClassifier,
  type ModelConfig,
  warmUpClassifierShaders,
} from "../../src/model/mod.ts";
import { AdamWWebGpu, warmUpWebGpuShaders } from "../../src/kernels/mod.ts";

const CONFIG: ModelConfig = {
  inputSize: 3,
  // Weights above tfjs' CPU hand-off size (1000 values), so that they are transposed on the
  // GPU in the warm-up as in later steps.
  hiddenSize: 16,
  numLayers: 1,
  bidirectional: true,
  dropout: 0,
  pooling: "last",
  numClasses: 5,
  lstmImpl: "fused",
};

Deno.test("warmUpWebGpuShaders() does nothing off WebGPU and says why", async () => {
  await tf.setBackend("wasm");
  await tf.ready();
  const warm = await warmUpWebGpuShaders(() => tf.tidy(() => tf.add(1, 2)));
  assert.equal(warm.shaders, 0);
  assert.equal(warm.skipped, "the active tfjs backend is not webgpu");
});

const adapter = await useWebGpuOrSkip("the WebGPU shader warm-up test");

/** Two seeded training steps; returns the losses. */
async function twoSteps(): Promise<number[]> {
  const model = createLstmClassifier(CONFIG, { seed: 3 });
  const vars = model.namedVariables.map((v) => v.variable);
  const opt = new AdamWWebGpu(vars, { weightDecay: 1e-4 });
  const x = tf.randomNormal([4, 6, 3], 0, 1, "float32", 5) as tf.Tensor3D;
  const mask = tf.ones([4, 6]) as tf.Tensor2D;
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3], "int32"), 5);
  const losses: number[] = [];
  for (let s = 0; s < 2; s++) {
    const loss = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy(y, model.apply(x, mask)) as tf.Scalar,
        vars,
      );
      opt.applyGradients(vars.map((v) => grads[v.name]), 1e-2);
      return value;
    });
    losses.push((await loss.data())[0]);
    loss.dispose();
  }
  tf.dispose([x, mask, y]);
  opt.dispose();
  model.dispose();
  return losses;
}

webGpuTest(import.meta.url, {
  name:
    "warmUpClassifierShaders() compiles every shader a training step needs, and nothing changes",
  ignore: !adapter,
  async fn() {
    await tf.setBackend("webgpu");
    await tf.ready();
    const tensors = tf.memory().numTensors;
    const warm = await warmUpClassifierShaders(CONFIG, { batchSize: 4, steps: 6 });
    assert.equal(tf.memory().numTensors, tensors, "the throwaway model must be disposed");
    assert.equal(tf.env().getBool("WEBGPU_ENGINE_COMPILE_ONLY"), false);
    if (!adapter!.isFallbackAdapter) {
      assert.match(warm.skipped ?? "", /hardware adapter/);
      return;
    }
    assert.equal(warm.skipped, undefined);
    assert.ok(warm.shaders >= 10, `only ${warm.shaders} shaders captured`);
    assert.ok(warm.devices >= 1);
    console.log(`  ${warm.shaders} shaders on ${warm.devices} devices in ${warm.ms.toFixed(0)} ms`);
    // The real steps find every pipeline made: no new shader module.
    const device = (tf.backend() as unknown as { device: GPUDevice }).device;
    const create = device.createShaderModule;
    let created = 0;
    device.createShaderModule = function (this: GPUDevice, d: GPUShaderModuleDescriptor) {
      created++;
      return create.call(this, d);
    };
    try {
      const first = await twoSteps();
      assert.equal(created, 0, `${created} shaders were not warmed up`);
      assert.deepEqual(await twoSteps(), first);
      assert.ok(first.every(Number.isFinite));
    } finally {
      device.createShaderModule = create;
    }
  },
});
