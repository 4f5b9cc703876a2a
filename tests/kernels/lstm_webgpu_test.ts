import "@tensorflow/tfjs-backend-webgpu";
import assert from "#assert";
import { skipUnlessPython } from "../_python.ts";
import { useWebGpuOrSkip, webGpuTest } from "../_webgpu.ts";
import { lstmLayerWebGpu, webgpuLstmAvailable } from "../../src/kernels/mod.ts";
import {
  assertMatchesReference,
  type LstmCase,
  numpyLstmReference,
  runStack,
} from "../model/_lstm_reference.ts";

// The software adapter compiles each new shader for seconds: cases stay tiny, and hidden
// sizes are chosen to hit every units-per-thread variant (forward 4 and 8, backward 1, 2,
// 4 and 8; see lstmProgramShape).
const adapter = await useWebGpuOrSkip("WebGPU LSTM kernel tests");
const ignore = (await skipUnlessPython("numpy")) || !adapter;

const CASES: LstmCase[] = [
  {
    name: "uni 1 layer hidden 40, batch 10 (two row blocks; backward: 2 units per thread)",
    batch: 10,
    steps: 6,
    inputSize: 5,
    hidden: 40,
    layers: 1,
    bidirectional: false,
    lengths: [6, 3, 1, 6, 2, 5, 4, 6, 1, 3],
    seed: 11,
  },
  {
    name: "bi 3 layers hidden 5 (forward: 2 threads, units past hidden)",
    batch: 3,
    steps: 5,
    inputSize: 4,
    hidden: 5,
    layers: 3,
    bidirectional: true,
    lengths: [5, 2, 4],
    seed: 12,
  },
  {
    name: "bi 2 layers hidden 70 (backward: 4 units per thread)",
    batch: 2,
    steps: 4,
    inputSize: 7,
    hidden: 70,
    layers: 2,
    bidirectional: true,
    lengths: [4, 2],
    seed: 13,
  },
  {
    name: "uni 1 layer hidden 130 (8 units per thread forward and backward)",
    batch: 2,
    steps: 3,
    inputSize: 3,
    hidden: 130,
    layers: 1,
    bidirectional: false,
    lengths: [3, 2],
    seed: 14,
  },
];

webGpuTest(import.meta.url, {
  name:
    "lstmLayerWebGpu() matches the numpy forward and BPTT within 1e-4 (uni/bi, 1-3 layers, padding)",
  ignore,
  async fn(t) {
    assert.equal(webgpuLstmAvailable(), true);
    for (const c of CASES) {
      await t.step(c.name, async () => {
        const ref = await numpyLstmReference(c);
        const got = await runStack(c, ref, lstmLayerWebGpu);
        const report = assertMatchesReference(got, ref, 1e-4);
        console.log(`  ${adapter?.description} ${c.name}: ${report}`);
      });
    }
  },
});
