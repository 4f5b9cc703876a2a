import "@tensorflow/tfjs-backend-webgpu";
import assert from "#assert";
import {
  createLstmClassifier,
  loadTorchStateDict,
  pipelineModelConfig,
} from "../../src/model/mod.ts";
import { webgpuLstmAvailable } from "../../src/kernels/mod.ts";
import { readPipelineCheckpoint } from "../../src/torch/mod.ts";
import { runPipeline, skipUnlessTorch } from "../_torch.ts";
import { useWebGpuOrSkip, webGpuTest } from "../_webgpu.ts";
import { relativeError } from "./_lstm_reference.ts";
import { type Made, probabilities, SPECS } from "./_pipeline_forward.ts";

// The pipeline's forward runs the LSTM with an all-ones mask: on webgpu that is the WebGPU
// kernels' path (src/kernels/) when available. A software adapter compiles every shader for
// seconds, so only the two BiLSTM cases run.
const adapter = await useWebGpuOrSkip("the pipeline's forward on webgpu");
const ignore = (await skipUnlessTorch("the pipeline's forward on webgpu")) || !adapter;

webGpuTest(import.meta.url, {
  name:
    "an imported pipeline checkpoint predicts torch's own probabilities (1e-5) on webgpu, unmasked poolings",
  ignore,
  async fn(t) {
    const dir = await Deno.makeTempDir();
    try {
      const specs = SPECS.slice(0, 2);
      const made = await runPipeline<Made[]>("make", [dir], specs);
      for (const [i, spec] of specs.entries()) {
        await t.step(
          `${spec.pooling} (${webgpuLstmAvailable() ? "WebGPU kernels" : "generic op"})`,
          async () => {
            const ckpt = readPipelineCheckpoint(await Deno.readFile(`${dir}/${i}/last.pt`));
            const model = createLstmClassifier(pipelineModelConfig(ckpt.modelState, ckpt.args), {
              seed: 0,
            });
            loadTorchStateDict(model, ckpt.modelState);
            const err = relativeError(
              await probabilities(model, made[i].x, made[i].lengths),
              made[i].probs,
            );
            console.log(`  webgpu (${adapter?.description}) ${spec.pooling}-unmasked: ${err}`);
            assert.ok(err <= 1e-5, `probabilities differ from torch's: ${err}`);
            model.dispose();
          },
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
