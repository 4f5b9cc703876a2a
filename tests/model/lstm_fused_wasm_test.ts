import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import assert from "#assert";
import { skipUnlessPython } from "../_python.ts";
import { lstmLayerFused } from "../../src/model/mod.ts";
import {
  assertMatchesReference,
  MASK_CASES,
  numpyLstmReference,
  runStack,
} from "./_lstm_reference.ts";

const ignore = await skipUnlessPython("numpy");
await tf.setBackend("wasm");
await tf.ready();
assert.equal(tf.getBackend(), "wasm");

Deno.test({
  name: "lstmLayerFused() on wasm matches the numpy reference for padded, empty and full rows",
  ignore,
  async fn(t) {
    for (const c of MASK_CASES) {
      await t.step(c.name, async () => {
        const ref = await numpyLstmReference(c);
        const got = await runStack(c, ref, lstmLayerFused);
        console.log(`  wasm fused ${c.name}: ${assertMatchesReference(got, ref, 1e-4)}`);
      });
    }
  },
});

Deno.test("lstmLayerFused() on wasm reports exactly zero gradients for an all-padding batch", () => {
  const v = (s: number[], seed: number) =>
    tf.variable(tf.randomUniform(s, -0.5, 0.5, "float32", seed));
  const w = { forward: { kernel: v([2, 8], 1), recurrent: v([2, 8], 2), bias: v([8], 3) } };
  const x = tf.randomNormal([2, 3, 2], 0, 1, "float32", 4) as tf.Tensor3D;
  const mask = tf.zeros([2, 3]) as tf.Tensor2D;
  const { grads } = tf.variableGrads(
    () => tf.sum(lstmLayerFused(x, mask, w)) as tf.Scalar,
    [w.forward.kernel, w.forward.recurrent, w.forward.bias],
  );
  for (const g of Object.values(grads)) assert.ok(g.dataSync().every((a) => a === 0));
  tf.dispose([x, mask, ...Object.values(grads), ...Object.values(w.forward)]);
});
