import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import assert from "#assert";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import { useWebGpuOrSkip, webGpuTest } from "../_webgpu.ts";
import { maxRelativeError as maxRel } from "../_numeric.ts";
import { adamwStepWebGpu, AdamWWebGpu, installDispatchCounter } from "../../src/kernels/mod.ts";

const adapter = await useWebGpuOrSkip("fused AdamW tests");
const ignore = (await skipUnlessPython("numpy")) || !adapter;

// numpy draws parameters and 3 gradients per tensor, and runs torch.optim.AdamW's formula
// in float64 (written from the paper / PyTorch docs, independently of the kernel).
const NUMPY_ADAMW = String.raw`
import json, sys
import numpy as np
spec = json.load(sys.stdin)
rng = np.random.default_rng(spec["seed"])
b1, b2, eps, wd = spec["beta1"], spec["beta2"], spec["eps"], spec["wd"]
out = []
for shape in spec["shapes"]:
    p = rng.standard_normal(shape).astype(np.float32)
    gs = [rng.standard_normal(shape).astype(np.float32) for _ in spec["lrs"]]
    q = p.astype(np.float64); m = np.zeros_like(q); v = np.zeros_like(q)
    for t, (lr, g) in enumerate(zip(spec["lrs"], gs), start=1):
        g = g.astype(np.float64)
        q = q - lr * wd * q
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat = m / (1 - b1 ** t)
        vhat = v / (1 - b2 ** t)
        q = q - lr * mhat / (np.sqrt(vhat) + eps)
    out.append({"p0": p.ravel().tolist(), "grads": [g.ravel().tolist() for g in gs],
                "p": q.ravel().tolist(), "m": m.ravel().tolist(), "v": v.ravel().tolist()})
print(json.dumps(out))
`;

interface Ref {
  p0: number[];
  grads: number[][];
  p: number[];
  m: number[];
  v: number[];
}

webGpuTest(import.meta.url, {
  name: "AdamWWebGpu matches numpy AdamW over 3 steps and costs 2 dispatches per tensor",
  ignore,
  async fn() {
    const spec = {
      seed: 7,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      wd: 0.01,
      shapes: [[5, 12], [12], [3, 70]],
      lrs: [1e-2, 5e-3, 2e-2],
    };
    const refs = await pythonJson<Ref[]>(NUMPY_ADAMW, { stdin: JSON.stringify(spec) });
    const vars = refs.map((r, i) => tf.variable(tf.tensor(r.p0, spec.shapes[i])));
    const opt = new AdamWWebGpu(vars, { weightDecay: spec.wd });
    const counter = installDispatchCounter();
    try {
      for (let s = 0; s < spec.lrs.length; s++) {
        const grads = refs.map((r, i) => tf.tensor(r.grads[s], spec.shapes[i]));
        await tf.backend().read(vars[0].dataId); // flush the uploads before counting
        counter.reset();
        opt.applyGradients(grads, spec.lrs[s]);
        await vars[vars.length - 1].data();
        assert.equal(counter.count, 2 * vars.length, `dispatches at step ${s + 1}`);
        tf.dispose(grads);
      }
    } finally {
      counter.uninstall();
    }
    const { m, v } = await opt.readMoments();
    for (let i = 0; i < refs.length; i++) {
      const p = await vars[i].data();
      assert.ok(maxRel(p, refs[i].p) < 1e-5, `param ${i}: ${maxRel(p, refs[i].p)}`);
      assert.ok(maxRel(m[i], refs[i].m) < 1e-5, `m ${i}: ${maxRel(m[i], refs[i].m)}`);
      assert.ok(maxRel(v[i], refs[i].v) < 1e-5, `v ${i}: ${maxRel(v[i], refs[i].v)}`);
    }
    opt.dispose();
    tf.dispose(vars);
  },
});

webGpuTest(import.meta.url, {
  name: "adamwStepWebGpu() rejects a state of the wrong size",
  ignore: !adapter,
  fn() {
    const p = tf.variable(tf.zeros([4]));
    const g = tf.zeros([4]);
    const s = tf.zeros([8]);
    assert.throws(
      () =>
        adamwStepWebGpu(p, g, s, {
          lr: 1e-3,
          step: 1,
          beta1: 0.9,
          beta2: 0.999,
          eps: 1e-8,
          weightDecay: 0,
        }),
      (e: unknown) =>
        e instanceof RangeError &&
        /Cannot apply the fused AdamW step to .*: expected grad of 4 and state of 12 elements, received 4 and 8/
          .test(e.message),
    );
    tf.dispose([p, g, s]);
  },
});
