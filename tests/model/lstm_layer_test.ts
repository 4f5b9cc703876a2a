import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import assert from "#assert";
import { skipUnlessPython } from "../_python.ts";
import { lstmLayer, lstmLayerFused, lstmLayerLayers } from "../../src/model/mod.ts";
import {
  assertMatchesReference,
  CASES,
  type LstmCase,
  numpyLstmReference,
  relativeError,
  runStack,
} from "./_lstm_reference.ts";

const ignore = await skipUnlessPython("numpy");
await tf.setBackend("wasm");
await tf.ready();
assert.equal(tf.getBackend(), "wasm");

for (const impl of ["fused", "layers"] as const) {
  Deno.test({
    name: `lstmLayer({ impl: "${impl}" }) matches the numpy forward and BPTT on wasm within 1e-4`,
    ignore,
    async fn(t) {
      for (const c of CASES) {
        await t.step(c.name, async () => {
          const ref = await numpyLstmReference(c);
          const got = await runStack(c, ref, (x, m, w) => lstmLayer(x, m, w, { impl }));
          const report = assertMatchesReference(got, ref, 1e-4);
          console.log(`  wasm ${impl} ${c.name}: ${report}`);
        });
      }
    },
  });
}

const WIDE_CASES: LstmCase[] = [
  {
    name: "bi 3 layers hidden 8",
    batch: 3,
    steps: 5,
    inputSize: 4,
    hidden: 8,
    layers: 3,
    bidirectional: true,
    lengths: [5, 1, 3],
    seed: 5,
  },
  {
    name: "bi 1 layer hidden 64",
    batch: 2,
    steps: 4,
    inputSize: 7,
    hidden: 64,
    layers: 1,
    bidirectional: true,
    lengths: [4, 2],
    seed: 6,
  },
  {
    name: "uni 1 layer hidden 256",
    batch: 2,
    steps: 3,
    inputSize: 6,
    hidden: 256,
    layers: 1,
    bidirectional: false,
    lengths: [3, 1],
    seed: 7,
  },
];

Deno.test({
  name: "lstmLayerFused() matches the numpy reference for 3 layers and hidden sizes 8..256 on wasm",
  ignore,
  async fn(t) {
    for (const c of WIDE_CASES) {
      await t.step(c.name, async () => {
        const ref = await numpyLstmReference(c);
        const got = await runStack(c, ref, lstmLayerFused);
        console.log(`  wasm fused ${c.name}: ${assertMatchesReference(got, ref, 1e-4)}`);
      });
    }
  },
});

Deno.test({
  name: 'lstmLayer() "layers" reference gives the same outputs and gradients as "fused"',
  ignore,
  async fn() {
    const c = CASES[3];
    const ref = await numpyLstmReference(c);
    const a = await runStack(c, ref, lstmLayerFused);
    const b = await runStack(c, ref, lstmLayerLayers);
    assert.ok(relativeError(a.out, Array.from(b.out)) <= 1e-5);
    assert.ok(relativeError(a.dx, Array.from(b.dx)) <= 1e-5);
    a.dWeights.flat(2).forEach((g, k) => {
      assert.ok(relativeError(g, Array.from(b.dWeights.flat(2)[k])) <= 1e-5, `weight grad ${k}`);
    });
  },
});

Deno.test("lstmLayer() holds each direction's state on padded steps", () => {
  tf.tidy(() => {
    const v = (s: number[], seed: number) =>
      tf.variable(tf.randomUniform(s, -0.5, 0.5, "float32", seed));
    const dir = (seed: number) => ({
      kernel: v([2, 12], seed),
      recurrent: v([3, 12], seed + 1),
      bias: v([12], seed + 2),
    });
    const w = { forward: dir(1), backward: dir(4) };
    const x = tf.randomNormal([1, 5, 2], 0, 1, "float32", 7) as tf.Tensor3D;
    const mask = tf.tensor2d([[0, 0, 1, 1, 1]]);
    const out = lstmLayerFused(x, mask, w).arraySync()[0];
    // Forward: zeros before the first valid step (t = 2).
    assert.deepEqual(out[0].slice(0, 3), [0, 0, 0]);
    assert.deepEqual(out[1].slice(0, 3), [0, 0, 0]);
    // Backward: padded steps carry the state after the first valid step.
    assert.deepEqual(out[0].slice(3), out[2].slice(3));
    assert.deepEqual(out[1].slice(3), out[2].slice(3));
    assert.notDeepEqual(out[2].slice(3), [0, 0, 0]);
    [w.forward, w.backward].forEach((d) => tf.dispose([d.kernel, d.recurrent, d.bias]));
  });
});

Deno.test("lstmLayer() rejects an unknown impl and mismatched shapes", () => {
  tf.tidy(() => {
    const dir = {
      kernel: tf.variable(tf.zeros([2, 8])),
      recurrent: tf.variable(tf.zeros([2, 8])),
      bias: tf.variable(tf.zeros([8])),
    };
    const x = tf.zeros([1, 3, 2]) as tf.Tensor3D;
    assert.throws(
      () => lstmLayer(x, tf.ones([1, 3]), { forward: dir }, { impl: "cudnn" as "fused" }),
      {
        name: "RangeError",
        message: 'Cannot run the LSTM layer with impl "cudnn": expected one of fused, layers',
      },
    );
    assert.throws(() => lstmLayer(x, tf.ones([1, 4]), { forward: dir }), {
      name: "RangeError",
      message:
        "Cannot run the LSTM layer: expected mask of shape [1,3] to match x [1,3,2], received [1,4]",
    });
    assert.throws(
      () => lstmLayer(tf.zeros([1, 3, 5]) as tf.Tensor3D, tf.ones([1, 3]), { forward: dir }),
      {
        name: "RangeError",
        message:
          "Cannot run the LSTM layer: expected kernel [5,8], recurrent [2,8], bias [8], received kernel [2,8], recurrent [2,8], bias [8]",
      },
    );
    tf.dispose([dir.kernel, dir.recurrent, dir.bias]);
  });
});

Deno.test({
  name: "lstmLayerFused() matches the numpy reference on the tfjs cpu backend (device layout path)",
  ignore,
  async fn(t) {
    await tf.setBackend("cpu");
    try {
      assert.equal(tf.getBackend(), "cpu");
      for (const c of [CASES[1], CASES[3]]) {
        await t.step(c.name, async () => {
          const ref = await numpyLstmReference(c);
          const got = await runStack(c, ref, lstmLayerFused);
          console.log(`  cpu fused ${c.name}: ${assertMatchesReference(got, ref, 1e-4)}`);
        });
      }
    } finally {
      await tf.setBackend("wasm");
    }
  },
});

Deno.test({
  name:
    "lstmLayerFused({ inputGradient: false }) keeps every weight gradient and reports dx as zeros",
  ignore,
  async fn() {
    const c = CASES[3];
    const ref = await numpyLstmReference(c);
    // Only the first layer skips its input gradient, as the classifier does.
    let layer = 0;
    const got = await runStack(
      c,
      ref,
      (x, m, w) => lstmLayerFused(x, m, w, { inputGradient: layer++ % 2 !== 0 }),
    );
    assert.ok(got.dx.every((v) => v === 0), "dx must be zeros");
    const full = assertMatchesReference({ ...got, dx: new Float32Array(ref.dx) }, ref, 1e-4);
    console.log(`  wasm fused, no input gradient: ${full}`);
  },
});
