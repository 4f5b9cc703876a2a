import "@tensorflow/tfjs-backend-webgpu";
import { skipUnlessPython } from "../_python.ts";
import { useWebGpuOrSkip } from "../_webgpu.ts";
import { lstmLayer, lstmLayerFused } from "../../src/model/mod.ts";
import { webgpuLstmAvailable } from "../../src/kernels/mod.ts";
import { assertMatchesReference, CASES, numpyLstmReference, runStack } from "./_lstm_reference.ts";

// WebGPU in Deno here is a software adapter: every new shader compiles for seconds, so the
// cases stay tiny.
const adapter = await useWebGpuOrSkip("WebGPU LSTM tests");
const ignore = (await skipUnlessPython("numpy")) || !adapter;

const kernels = !ignore && webgpuLstmAvailable();
const runners = [
  {
    label: kernels
      ? "default (WebGPU kernels)"
      : "default (generic fused op: WebGPU kernels unavailable)",
    run: lstmLayer,
  },
  ...(kernels ? [{ label: "generic fused op", run: lstmLayerFused }] : []),
];

for (const { label, run } of runners) {
  Deno.test({
    name: `lstmLayer() ${label} matches the numpy forward and BPTT on webgpu within 1e-4`,
    ignore,
    async fn(t) {
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
