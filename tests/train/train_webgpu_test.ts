import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import assert from "#assert";
import { skipUnlessPython } from "../_python.ts";
import { useWebGpuOrSkip, webGpuTest } from "../_webgpu.ts";
import { type EpochMetrics, train } from "../../src/train/mod.ts";
import { smallData, tinyConfig } from "./_data.ts";

// Kept tiny: every new shader costs seconds on the software adapter.
const adapter = await useWebGpuOrSkip("WebGPU training test");
const ignore = !adapter || (await skipUnlessPython("numpy"));

webGpuTest(import.meta.url, {
  name: "train() runs on WebGPU: finite falling loss, metrics in range, flat tensor count",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    assert.ok(await tf.setBackend("webgpu"));
    await tf.ready();
    assert.equal(tf.getBackend(), "webgpu");
    console.log(`  adapter: ${adapter!.description}`);
    const data = await smallData(64, 32, 8, 3);
    const epochs: EpochMetrics[] = [];
    const counts: number[] = [];
    const t0 = performance.now();
    // stepMultiple 8 = the whole window: one batch shape, one set of shaders.
    await train(
      tinyConfig({ epochs: 2, batchSize: 32, hiddenSize: 4, logInterval: 1, lr: 3e-2 }),
      data,
      {
        onEpochEnd: (m) => void epochs.push(m),
        onStep: () => void counts.push(tf.memory().numTensors),
      },
      { stepMultiple: 8 },
    );
    console.log(
      `  2 epochs on webgpu in ${((performance.now() - t0) / 1000).toFixed(1)} s: ` +
        epochs.map((m) => `loss ${m.train_loss.toFixed(3)} f1 ${m.val_macro_f1.toFixed(3)}`).join(
          ", ",
        ),
    );
    assert.equal(epochs.length, 2);
    for (const m of epochs) {
      assert.ok(Number.isFinite(m.train_loss) && Number.isFinite(m.val_loss));
      assert.ok(m.val_macro_f1 >= 0 && m.val_macro_f1 <= 1 && m.val_acc >= 0 && m.val_acc <= 1);
    }
    assert.ok(epochs[1].train_loss < epochs[0].train_loss, "loss falls");
    assert.equal(new Set(counts).size, 1, `tensor counts per step: ${counts}`);
  },
});
