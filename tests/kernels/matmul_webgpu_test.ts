import * as tf from "@tensorflow/tfjs";
import assert from "#assert";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import { useWebGpuOrSkip, webGpuTest } from "../_webgpu.ts";
import { matMulWebGpu, type MatrixView } from "../../src/kernels/mod.ts";

// Every case but the last is one shader variant (transposes, bias); the column counts
// keep the thread layout the same so that the software adapter compiles few shaders.
const adapter = await useWebGpuOrSkip("WebGPU matmul tests");
const ignore = (await skipUnlessPython("numpy")) || !adapter;

interface Case {
  readonly name: string;
  readonly batch: number; // 0: rank 2
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly transposeA: boolean;
  readonly transposeB: boolean;
  readonly bias: boolean;
  /** Pass A and B as views this many elements into larger tensors. */
  readonly viewOffset?: number;
}

const CASES: Case[] = [
  {
    name: "A B + bias, edge tiles",
    batch: 0,
    m: 37,
    k: 12,
    n: 52,
    transposeA: false,
    transposeB: false,
    bias: true,
  },
  {
    name: "A^T B",
    batch: 0,
    m: 20,
    k: 44,
    n: 60,
    transposeA: true,
    transposeB: false,
    bias: false,
  },
  { name: "A B^T", batch: 0, m: 9, k: 16, n: 56, transposeA: false, transposeB: true, bias: false },
  {
    name: "batched A^T B",
    batch: 2,
    m: 8,
    k: 28,
    n: 64,
    transposeA: true,
    transposeB: false,
    bias: false,
  },
  {
    name: "A^T B read as views at an offset",
    batch: 0,
    m: 20,
    k: 44,
    n: 60,
    transposeA: true,
    transposeB: false,
    bias: false,
    viewOffset: 12,
  },
  {
    name: "unaligned K (tf.matMul fallback)",
    batch: 0,
    m: 6,
    k: 5,
    n: 7,
    transposeA: false,
    transposeB: true,
    bias: true,
  },
];

const NUMPY = String.raw`
import json, sys
import numpy as np
c = json.loads(sys.argv[1])
rng = np.random.default_rng(c["k"] * 1000 + c["n"])
lead = [c["batch"]] if c["batch"] else []
a_shape = lead + ([c["k"], c["m"]] if c["transposeA"] else [c["m"], c["k"]])
b_shape = lead + ([c["n"], c["k"]] if c["transposeB"] else [c["k"], c["n"]])
a = rng.standard_normal(a_shape).astype(np.float32)
b = rng.standard_normal(b_shape).astype(np.float32)
bias = rng.standard_normal(c["n"]).astype(np.float32)
t = lambda x: np.swapaxes(x, -1, -2)
y = (t(a) if c["transposeA"] else a) @ (t(b) if c["transposeB"] else b)
if c["bias"]:
    y = y + bias
print(json.dumps({"a": a.ravel().tolist(), "aShape": a_shape, "b": b.ravel().tolist(),
                  "bShape": b_shape, "bias": bias.tolist(), "y": y.ravel().tolist()}))
`;

interface Reference {
  a: number[];
  aShape: number[];
  b: number[];
  bShape: number[];
  bias: number[];
  y: number[];
}

webGpuTest(import.meta.url, {
  name: "matMulWebGpu() equals numpy's product (transposes, batch, bias, edge tiles)",
  ignore,
  async fn(t) {
    for (const c of CASES) {
      await t.step(c.name, async () => {
        const ref = await pythonJson<Reference>(NUMPY, { args: [JSON.stringify(c)] });
        const at = c.viewOffset ? 0 : undefined;
        const a = tf.tensor(ref.a, ref.aShape);
        const b = tf.tensor(ref.b, ref.bShape);
        const bias = c.bias ? tf.tensor1d(ref.bias) : undefined;
        const view = (t: tf.Tensor): MatrixView | tf.Tensor => {
          if (at === undefined) return t;
          // Junk before and after the matrix: only the view's region may be read.
          const junk = tf.fill([c.viewOffset!], 1e6);
          const packed = tf.concat([junk, tf.reshape(t, [-1]), junk]);
          return { tensor: packed, offset: c.viewOffset!, shape: t.shape as [number, number] };
        };
        const y = matMulWebGpu(view(a), view(b), {
          transposeA: c.transposeA,
          transposeB: c.transposeB,
          bias,
        });
        const expectShape = c.batch ? [c.batch, c.m, c.n] : [c.m, c.n];
        assert.deepEqual(y.shape, expectShape);
        const got = await y.data();
        let worst = 0;
        ref.y.forEach((v, i) => {
          worst = Math.max(worst, Math.abs(got[i] - v) / Math.max(1, Math.abs(v)));
        });
        assert.ok(worst < 1e-5, `${c.name}: max relative error ${worst}`);
        tf.dispose([a, b, y, ...(bias ? [bias] : [])]);
      });
    }
  },
});

webGpuTest(import.meta.url, {
  name: "matMulWebGpu() rejects mismatched inner sizes and views outside their tensor",
  ignore: !adapter,
  fn() {
    assert.throws(
      () => matMulWebGpu(tf.zeros([2, 3]), tf.zeros([4, 5])),
      (e: unknown) =>
        e instanceof RangeError &&
        /Cannot multiply matrices of shapes \[2,3\] and \[4,5\]: inner sizes/.test(e.message),
    );
    const view = { tensor: tf.zeros([10]), offset: 4, shape: [2, 4] as [number, number] };
    assert.throws(
      () => matMulWebGpu(view, tf.zeros([4, 4])),
      (e: unknown) =>
        e instanceof RangeError &&
        /Cannot multiply a view of shape \[2,4\] at offset 4 of a tensor of 10 elements/.test(
          e.message,
        ),
    );
  },
});
