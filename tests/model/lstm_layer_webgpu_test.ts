import "@tensorflow/tfjs-backend-webgpu";
import assert from "#assert";
import { skipUnlessPython } from "../_python.ts";
import { useWebGpuOrSkip, webGpuTest } from "../_webgpu.ts";
import { lstmLayer, lstmLayerFused } from "../../src/model/mod.ts";
import { webgpuLstmAvailable } from "../../src/kernels/mod.ts";
import { assertMatchesReference, CASES, numpyLstmReference, runStack } from "./_lstm_reference.ts";

// WebGPU in Deno here is a software adapter: every new shader compiles for seconds, so the
// cases stay tiny.
const adapter = await useWebGpuOrSkip("WebGPU LSTM tests");
const ignore = (await skipUnlessPython("numpy")) || !adapter;

// The tests run in a child process (webGpuTest) where "webgpu" is the active backend, so the
// default path is the WebGPU kernels; the names cannot depend on it (they are registered in
// the test process too, which never starts WebGPU).
const runners = [
  { label: "default (WebGPU kernels)", run: lstmLayer, kernels: true },
  { label: "generic fused op", run: lstmLayerFused, kernels: false },
];

for (const { label, run, kernels } of runners) {
  webGpuTest(import.meta.url, {
    name: `lstmLayer() ${label} matches the numpy forward and BPTT on webgpu within 1e-4`,
    ignore,
    async fn(t) {
      if (kernels) assert.ok(webgpuLstmAvailable(), "the WebGPU LSTM kernels are available");
      for (const c of CASES) {
        await t.step(c.name, async () => {
          const ref = await numpyLstmReference(c);
          const got = await runStack(c, ref, (x, m, w) => run(x, m, w));
          const report = assertMatchesReference(got, ref, 1e-4);
          console.log(`  webgpu (${adapter?.description}) ${label} ${c.name}: ${report}`);
        });
      }
    },
  });
}
