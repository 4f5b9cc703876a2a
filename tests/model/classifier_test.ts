import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import assert from "#assert";
import { createLstmClassifier, type ModelConfig } from "../../src/model/mod.ts";
import { relativeError } from "./_lstm_reference.ts";

await tf.setBackend("wasm");
await tf.ready();
assert.equal(tf.getBackend(), "wasm");

const BASE: ModelConfig = {
  inputSize: 4,
  hiddenSize: 6,
  numLayers: 2,
  bidirectional: true,
  dropout: 0.3,
  pooling: "last",
  numClasses: 5,
  lstmImpl: "fused",
};

/** Host-side deterministic pseudo-random numbers (a plain LCG, independent of the model's PRNG). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 * 2 - 1;
  };
}

/** Pre-padded windows of length `steps` holding the same valid data; padding filled with `pad`. */
function windows(
  lengths: number[],
  steps: number,
  inputSize: number,
  pad: (r: () => number) => number,
): { x: tf.Tensor3D; mask: tf.Tensor2D } {
  const valid = lcg(11);
  const junk = lcg(99);
  const x = new Float32Array(lengths.length * steps * inputSize);
  const mask = new Float32Array(lengths.length * steps);
  lengths.forEach((len, b) => {
    for (let t = 0; t < steps; t++) {
      const isValid = t >= steps - len;
      mask[b * steps + t] = isValid ? 1 : 0;
      for (let k = 0; k < inputSize; k++) {
        x[(b * steps + t) * inputSize + k] = isValid ? valid() : pad(junk);
      }
    }
  });
  return {
    x: tf.tensor3d(x, [lengths.length, steps, inputSize]),
    mask: tf.tensor2d(mask, [lengths.length, steps]),
  };
}

Deno.test("createLstmClassifier() logits do not change when the padding length changes", async (t) => {
  for (const bidirectional of [false, true]) {
    for (const pooling of ["last", "mean"] as const) {
      for (const lstmImpl of ["fused", "layers"] as const) {
        await t.step(`${bidirectional ? "bi" : "uni"} ${pooling} ${lstmImpl}`, () => {
          const model = createLstmClassifier({ ...BASE, bidirectional, pooling, lstmImpl }, {
            seed: 3,
          });
          const lengths = [8, 5, 1];
          const short = windows(lengths, 8, BASE.inputSize, () => 0);
          const long = windows(lengths, 12, BASE.inputSize, () => 0);
          const junk = windows(lengths, 12, BASE.inputSize, (r) => 5 * r());
          const [a, b, c] = [short, long, junk].map((w) =>
            tf.tidy(() => model.apply(w.x, w.mask).arraySync().flat())
          );
          assert.ok(relativeError(b, a) <= 1e-6, `window 12 vs 8: ${relativeError(b, a)}`);
          assert.ok(relativeError(c, a) <= 1e-6, `junk padding vs 8: ${relativeError(c, a)}`);
          // Sanity: the logits do depend on the valid data.
          const other = windows([8, 4, 1], 8, BASE.inputSize, () => 0);
          const d = tf.tidy(() => model.apply(other.x, other.mask).arraySync().flat());
          assert.ok(relativeError(d, a) > 1e-3, "logits ignore the data");
          tf.dispose([
            short.x,
            short.mask,
            long.x,
            long.mask,
            junk.x,
            junk.mask,
            other.x,
            other.mask,
          ]);
          model.dispose();
        });
      }
    }
  }
});

Deno.test("createLstmClassifier() unmasked poolings run the LSTM over the padding, as the PyTorch pipeline does", async (t) => {
  for (const lstmImpl of ["fused", "layers"] as const) {
    await t.step(lstmImpl, () => {
      const logits = (
        config: Partial<ModelConfig>,
        w: { x: tf.Tensor3D; mask: tf.Tensor2D },
      ) => {
        const model = createLstmClassifier({ ...BASE, lstmImpl, ...config }, { seed: 4 });
        const out = tf.tidy(() => model.apply(w.x, w.mask).arraySync().flat());
        model.dispose();
        return out;
      };
      const full = windows([6, 6], 6, BASE.inputSize, () => 0);
      const padded = windows([6, 3], 8, BASE.inputSize, () => 0);
      const longer = windows([6, 3], 12, BASE.inputSize, () => 0);
      // Without padding, the unidirectional "last" and both "mean"s agree with the masked ones.
      const uni = { bidirectional: false };
      assert.ok(
        relativeError(
          logits({ ...uni, pooling: "last-unmasked" }, full),
          logits({ ...uni, pooling: "last" }, full),
        ) <= 1e-6,
      );
      for (const bidirectional of [false, true]) {
        assert.ok(
          relativeError(
            logits({ bidirectional, pooling: "mean-unmasked" }, full),
            logits({ bidirectional, pooling: "mean" }, full),
          ) <= 1e-6,
        );
      }
      // The bidirectional "last" reads the backward direction after one step: not the same.
      assert.ok(
        relativeError(
          logits({ pooling: "last-unmasked" }, full),
          logits({ pooling: "last" }, full),
        ) > 1e-3,
      );
      // With padding the unmasked poolings see it: more padding, other logits.
      for (const pooling of ["last-unmasked", "mean-unmasked"] as const) {
        assert.ok(
          relativeError(logits({ pooling }, longer), logits({ pooling }, padded)) > 1e-4,
          pooling,
        );
      }
      tf.dispose([full.x, full.mask, padded.x, padded.mask, longer.x, longer.mask]);
    });
  }
});

Deno.test("createLstmClassifier() keeps the tensor count flat over repeated apply + gradients", async (t) => {
  for (const lstmImpl of ["fused", "layers"] as const) {
    await t.step(lstmImpl, () => {
      const model = createLstmClassifier({ ...BASE, lstmImpl }, { seed: 1 });
      const { x, mask } = windows([6, 2], 6, BASE.inputSize, () => 0);
      const vars = model.namedVariables.map((v) => v.variable);
      const step = (i: number) =>
        tf.tidy(() => {
          const { grads } = tf.variableGrads(
            () => tf.mean(model.apply(x, mask, { training: true, dropoutSeed: i })) as tf.Scalar,
            vars,
          );
          assert.equal(Object.keys(grads).length, vars.length);
        });
      step(0);
      const before = tf.memory().numTensors;
      for (let i = 1; i <= 4; i++) step(i);
      assert.equal(tf.memory().numTensors, before);
      tf.dispose([x, mask]);
      const withModel = tf.memory().numTensors;
      model.dispose();
      assert.equal(tf.memory().numTensors, withModel - vars.length);
    });
  }
});

Deno.test("createLstmClassifier() dropout is reproducible from dropoutSeed and off at inference", () => {
  const model = createLstmClassifier(BASE, { seed: 5 });
  const { x, mask } = windows([6, 3], 6, BASE.inputSize, () => 0);
  const run = (o: { training?: boolean; dropoutSeed?: number }) =>
    tf.tidy(() => model.apply(x, mask, o).arraySync().flat());
  const plain = run({});
  assert.deepEqual(run({ training: false, dropoutSeed: 1 }), plain);
  const s1 = run({ training: true, dropoutSeed: 1 });
  assert.deepEqual(run({ training: true, dropoutSeed: 1 }), s1);
  assert.ok(relativeError(run({ training: true, dropoutSeed: 2 }), s1) > 1e-3);
  assert.ok(relativeError(s1, plain) > 1e-3);
  assert.throws(() => run({ training: true }), {
    name: "TypeError",
    message: "Cannot apply the LSTM classifier in training mode: dropoutSeed is required when " +
      "dropout > 0 (derive it from seed, epoch and step so a resumed run matches)",
  });
  tf.dispose([x, mask]);
  model.dispose();
});

Deno.test("createLstmClassifier() draws PyTorch-style uniform weights from the seed", async () => {
  const a = createLstmClassifier(BASE, { seed: 7 });
  const b = createLstmClassifier(BASE, { seed: 7 });
  const c = createLstmClassifier(BASE, { seed: 8 });
  const h = BASE.hiddenSize;
  const names = a.namedVariables.map((v) => v.name);
  assert.deepEqual(names, [
    ...[0, 1].flatMap((l) =>
      ["", "_reverse"].flatMap((
        s,
      ) => [`lstm.weight_ih_l${l}${s}`, `lstm.weight_hh_l${l}${s}`, `lstm.bias_l${l}${s}`])
    ),
    ...[0, 3, 6].flatMap((j) => [`head.${j}.weight`, `head.${j}.bias`]),
  ]);
  const shapes = a.namedVariables.map((v) => v.variable.shape.join("x"));
  assert.deepEqual(shapes.slice(0, 3), [`4x${4 * h}`, `${h}x${4 * h}`, `${4 * h}`]);
  assert.deepEqual(shapes.slice(6, 7), [`${2 * h}x${4 * h}`]);
  assert.deepEqual(shapes.slice(12), [`${2 * h}x128`, "128", "128x64", "64", "64x5", "5"]);
  for (let k = 0; k < names.length; k++) {
    const va = await a.namedVariables[k].variable.data();
    const vb = await b.namedVariables[k].variable.data();
    const vc = await c.namedVariables[k].variable.data();
    assert.deepEqual(va, vb, `${names[k]} differs for the same seed`);
    assert.notDeepEqual(va, vc, `${names[k]} equal for different seeds`);
    const fanIn = names[k].startsWith("lstm.") ? h : a.namedVariables[k].variable.shape[0];
    const bound = 1 /
      Math.sqrt(
        names[k].startsWith("head.") && names[k].endsWith(".bias")
          ? a.namedVariables[k - 1].variable.shape[0]
          : fanIn,
      );
    const isBias = /^lstm\.bias/.test(names[k]);
    for (let i = 0; i < va.length; i++) {
      const forget = isBias && i >= h && i < 2 * h;
      const centred = forget ? va[i] - 1 : va[i];
      assert.ok(Math.abs(centred) <= bound, `${names[k]}[${i}] = ${va[i]} outside +-${bound}`);
    }
    // Spread: a uniform draw fills most of its range.
    const maxAbs = Math.max(
      ...Array.from(va, (v, i) => Math.abs(isBias && i >= h && i < 2 * h ? v - 1 : v)),
    );
    if (va.length >= 20) {
      assert.ok(maxAbs > 0.7 * bound, `${names[k]} too narrow: ${maxAbs} vs ${bound}`);
    }
  }
  [a, b, c].forEach((m) => m.dispose());
});

Deno.test("createLstmClassifier() rejects invalid configs", async (t) => {
  const cases: [string, Partial<ModelConfig>, string][] = [
    [
      "hidden 0",
      { hiddenSize: 0 },
      "Cannot create the LSTM classifier: hiddenSize must be a positive integer, received 0",
    ],
    [
      "layers 1.5",
      { numLayers: 1.5 },
      "Cannot create the LSTM classifier: numLayers must be a positive integer, received 1.5",
    ],
    [
      "dropout 1",
      { dropout: 1 },
      "Cannot create the LSTM classifier: dropout must be in [0, 1), received 1",
    ],
    [
      "pooling max",
      { pooling: "max" as "last" },
      'Cannot create the LSTM classifier: pooling must be one of last, mean, last-unmasked, mean-unmasked, received "max"',
    ],
    [
      "impl",
      { lstmImpl: "cudnn" as "fused" },
      'Cannot create the LSTM classifier: lstmImpl must be one of fused, layers, received "cudnn"',
    ],
  ];
  for (const [name, patch, message] of cases) {
    await t.step(name, () => {
      const before = tf.memory().numTensors;
      assert.throws(() => createLstmClassifier({ ...BASE, ...patch }, { seed: 1 }), {
        name: "RangeError",
        message,
      });
      assert.equal(tf.memory().numTensors, before);
    });
  }
  await t.step("wrong feature count at apply", () => {
    const model = createLstmClassifier(BASE, { seed: 1 });
    const x = tf.zeros([1, 3, 7]) as tf.Tensor3D;
    const mask = tf.ones([1, 3]) as tf.Tensor2D;
    assert.throws(() => model.apply(x, mask), {
      name: "RangeError",
      message:
        "Cannot apply the LSTM classifier: expected x of shape [batch, steps, 4], received [1,3,7]",
    });
    tf.dispose([x, mask]);
    model.dispose();
  });
});
