import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import assert from "#assert";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import {
  AdamW,
  classificationLoss,
  clipByGlobalNorm,
  learningRateAt,
} from "../../src/train/mod.ts";

const ignore = await skipUnlessPython("numpy");
await tf.setBackend("wasm");
assert.equal(tf.getBackend(), "wasm");

function close(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string) {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    const err = Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i]));
    assert.ok(err <= tol, `${what}[${i}]: ${got[i]} vs ${want[i]} (rel ${err})`);
  }
}

Deno.test({
  name: "classificationLoss() equals numpy for CE, class-weighted CE and focal (gamma 2)",
  ignore,
  async fn(t) {
    const ref = await pythonJson<
      { logits: number[][]; y: number[]; w: number[]; out: Record<string, number> }
    >(`
import json, numpy as np
rng = np.random.default_rng(5)
logits = rng.normal(size=(7, 5)) * 2; y = rng.integers(0, 5, size=7); w = rng.random(5) + 0.2
z = logits - logits.max(1, keepdims=True); logp = z - np.log(np.exp(z).sum(1, keepdims=True))
nll = -logp[np.arange(7), y]; p = np.exp(-nll); wi = w[y]
out = {"ce": nll.mean(), "weighted": (wi * nll).sum() / wi.sum(),
       "focal": ((1 - p) ** 2 * nll).mean(), "focal_weighted": (wi * (1 - p) ** 2 * nll).sum() / wi.sum()}
print(json.dumps({"logits": logits.tolist(), "y": y.tolist(), "w": w.tolist(), "out": out}))`);
    const logits = tf.tensor2d(ref.logits);
    const y = tf.tensor1d(ref.y, "int32");
    const w = tf.tensor1d(ref.w);
    const cases = [
      ["ce", {}],
      ["weighted", { classWeights: w }],
      ["focal", { focalGamma: 2 }],
      ["focal_weighted", { classWeights: w, focalGamma: 2 }],
    ] as const;
    for (const [name, opts] of cases) {
      await t.step(name, () => {
        const before = tf.memory().numTensors;
        const l = classificationLoss(logits, y, opts);
        close(l.dataSync(), [ref.out[name]], 1e-5, name);
        l.dispose();
        assert.equal(tf.memory().numTensors, before, "no leaked tensors");
      });
    }
    tf.dispose([logits, y, w]);
  },
});

Deno.test({
  name: "AdamW three steps equal torch.optim.AdamW's update rule computed in numpy",
  ignore,
  async fn() {
    const ref = await pythonJson<
      { p0: number[]; grads: number[][]; p: number[]; m: number[]; v: number[] }
    >(`
import json, numpy as np
rng = np.random.default_rng(11)
p = rng.normal(size=6); p0 = p.copy(); grads = [rng.normal(size=6) for _ in range(3)]
m = np.zeros(6); v = np.zeros(6); lr, b1, b2, eps, wd = 0.01, 0.9, 0.999, 1e-8, 0.1
for t, g in enumerate(grads, 1):
    p = p * (1 - lr * wd)
    m = b1 * m + (1 - b1) * g; v = b2 * v + (1 - b2) * g * g
    denom = np.sqrt(v) / np.sqrt(1 - b2 ** t) + eps
    p = p - lr / (1 - b1 ** t) * m / denom
print(json.dumps({"p0": p0.tolist(), "grads": [g.tolist() for g in grads], "p": p.tolist(),
                  "m": m.tolist(), "v": v.tolist()}))`);
    const variable = tf.variable(tf.tensor1d(ref.p0));
    const opt = new AdamW([{ name: "p", variable }], { weightDecay: 0.1 });
    for (const g of ref.grads) tf.tidy(() => opt.applyGradients([tf.tensor1d(g)], 0.01));
    close(variable.dataSync(), ref.p, 1e-5, "p");
    const state = await opt.getState();
    assert.equal(state.step, 3);
    close(state.m.p, ref.m, 1e-5, "m");
    close(state.v.p, ref.v, 1e-5, "v");
    // State round trip: a fresh optimizer restored from it continues identically.
    const twin = tf.variable(variable.clone());
    const opt2 = new AdamW([{ name: "p", variable: twin }], { weightDecay: 0.1 });
    opt2.setState(state);
    tf.tidy(() => opt.applyGradients([tf.tensor1d(ref.grads[0])], 0.01));
    tf.tidy(() => opt2.applyGradients([tf.tensor1d(ref.grads[0])], 0.01));
    assert.deepEqual([...twin.dataSync()], [...variable.dataSync()]);
    opt.dispose(), opt2.dispose(), variable.dispose(), twin.dispose();
  },
});

Deno.test("AdamW.setState() rejects moments of the wrong size", () => {
  const variable = tf.variable(tf.zeros([3]));
  const opt = new AdamW([{ name: "w", variable }]);
  assert.throws(
    () => opt.setState({ step: 1, m: { w: new Float32Array(2) }, v: { w: new Float32Array(3) } }),
    (e: Error) =>
      e instanceof RangeError &&
      e.message === `Cannot restore AdamW state: m for "w" expected 3 values, received 2`,
  );
  opt.dispose(), variable.dispose();
});

Deno.test("learningRateAt() halves every stepLrStepSize epochs like torch StepLR", async (t) => {
  const s = { lr: 1e-3, stepLrStepSize: 10, stepLrGamma: 0.5 };
  // torch: StepLR(step_size=10, gamma=0.5), scheduler.step() after each epoch.
  for (const [epoch, want] of [[1, 1e-3], [10, 1e-3], [11, 5e-4], [21, 2.5e-4]]) {
    await t.step(`epoch ${epoch}`, () => assert.equal(learningRateAt(epoch, s), want));
  }
  assert.throws(
    () => learningRateAt(0, s),
    (e: Error) =>
      e instanceof RangeError &&
      e.message === "Cannot compute the learning rate: epoch must be an integer >= 1, received 0",
  );
});

Deno.test({
  name: "clipByGlobalNorm() scales by max_norm / (norm + 1e-6) like torch clip_grad_norm_",
  ignore,
  async fn() {
    const ref = await pythonJson<
      { a: number[]; b: number[]; norm: number; ca: number[]; cb: number[] }
    >(`
import json, numpy as np
a = np.array([3.0, -4.0]); b = np.array([12.0])
norm = np.sqrt((a ** 2).sum() + (b ** 2).sum()); c = min(1.0, 2.0 / (norm + 1e-6))
print(json.dumps({"a": a.tolist(), "b": b.tolist(), "norm": norm, "ca": (a * c).tolist(), "cb": (b * c).tolist()}))`);
    tf.tidy(() => {
      const { grads, norm } = clipByGlobalNorm([tf.tensor1d(ref.a), tf.tensor1d(ref.b)], 2);
      close(norm.dataSync(), [ref.norm], 1e-6, "norm");
      close(grads[0].dataSync(), ref.ca, 1e-6, "a");
      close(grads[1].dataSync(), ref.cb, 1e-6, "b");
      const big = clipByGlobalNorm([tf.tensor1d(ref.a)], 100).grads[0];
      close(big.dataSync(), ref.a, 1e-6, "unclipped");
    });
  },
});
