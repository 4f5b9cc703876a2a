import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import assert from "#assert";
import { skipUnlessPython } from "../_python.ts";
import { probeWebGpuAdapter } from "../../src/runtime/mod.ts";
import { lstmLayer, lstmLayerFused } from "../../src/model/mod.ts";
import { webgpuLstmAvailable } from "../../src/kernels/mod.ts";
import { assertMatchesReference, CASES, numpyLstmReference, runStack } from "./_lstm_reference.ts";

// WebGPU in Deno here is a software adapter: every new shader compiles for seconds, so the
// cases stay tiny.
const adapter = await probeWebGpuAdapter();
let ignore = await skipUnlessPython("numpy");
if (!adapter) {
  console.warn("\n*** SKIPPING WebGPU LSTM tests: no WebGPU adapter in this runtime ***\n");
  ignore = true;
} else {
  await tf.setBackend("webgpu");
  await tf.ready();
  assert.equal(tf.getBackend(), "webgpu");
}

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
