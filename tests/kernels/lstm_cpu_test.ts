import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import assert from "#assert";
import { skipUnlessPython } from "../_python.ts";
import {
  cpuKernelsInfo,
  lstmLayerCpu,
  setCpuKernelThreads,
  startCpuKernels,
  stopCpuKernels,
} from "../../src/kernels/mod.ts";
import {
  assertMatchesReference,
  CASES,
  type LstmCase,
  MASK_CASES,
  numpyLstmReference,
  runStack,
  type StackResult,
} from "../model/_lstm_reference.ts";

const ignore = await skipUnlessPython("numpy");
await tf.setBackend("wasm");
await tf.ready();

// Beyond the shared cases: hidden sizes that are not a multiple of 4 (padded internally),
// masked rows and steps of every kind, and a group of rows larger than one GEMM tile.
const CPU_CASES: LstmCase[] = [
  ...CASES,
  ...MASK_CASES,
  {
    name: "bi, hidden 6, rows with no valid step",
    batch: 4,
    steps: 6,
    inputSize: 5,
    hidden: 6,
    layers: 2,
    bidirectional: true,
    lengths: [0, 6, 3, 0],
    seed: 21,
  },
  {
    name: "uni, hidden 9, one valid step per row",
    batch: 3,
    steps: 5,
    inputSize: 4,
    hidden: 9,
    layers: 1,
    bidirectional: false,
    lengths: [1, 1, 1],
    seed: 14,
  },
  {
    name: "bi, batch 19, hidden 16, inputs 13",
    batch: 19,
    steps: 9,
    inputSize: 13,
    hidden: 16,
    layers: 2,
    bidirectional: true,
    lengths: [9, 1, 5, 9, 2, 7, 8, 3, 9, 4, 6, 9, 1, 2, 9, 5, 8, 7, 6],
    seed: 15,
  },
];

const run = (x: tf.Tensor3D, mask: tf.Tensor2D, w: Parameters<typeof lstmLayerCpu>[2]) =>
  lstmLayerCpu(x, mask, w);

function assertSameBits(a: StackResult, b: StackResult, what: string): void {
  const same = (x: Float32Array, y: Float32Array, name: string) => {
    assert.equal(x.length, y.length);
    for (let i = 0; i < x.length; i++) {
      if (!Object.is(x[i], y[i])) {
        assert.fail(`${what}: ${name}[${i}] differs: ${x[i]} vs ${y[i]}`);
      }
    }
  };
  same(a.out, b.out, "out");
  same(a.dx, b.dx, "dx");
  a.dWeights.forEach((l, li) =>
    l.forEach((d, di) => d.forEach((g, gi) => same(g, b.dWeights[li][di][gi], `w${li}${di}${gi}`)))
  );
}

Deno.test({
  name: "lstmLayerCpu() matches the numpy reference, and 1 and 2 threads give the same bits",
  ignore,
  async fn(t) {
    try {
      for (const c of CPU_CASES) {
        await t.step(c.name, async () => {
          const ref = await numpyLstmReference(c);
          setCpuKernelThreads(1);
          const one = await runStack(c, ref, run);
          setCpuKernelThreads(2);
          const info = await startCpuKernels();
          assert.equal(info.liveThreads, 2, "the second thread must be live");
          // Deno 2.9's V8 has relaxed SIMD: the GEMM uses fused multiply-adds.
          assert.equal(info.fusedMultiplyAdd, true);
          const two = await runStack(c, ref, run);
          console.log(`  cpu ${c.name}: ${assertMatchesReference(two, ref, 1e-4)}`);
          assertSameBits(one, two, c.name);
        });
      }
    } finally {
      stopCpuKernels();
    }
  },
});

Deno.test("lstmLayerCpu() frees its memory after backward, and keeps nothing without a gradient", () => {
  const v = (s: number[], seed: number) =>
    tf.variable(tf.randomUniform(s, -0.5, 0.5, "float32", seed));
  const w = { forward: { kernel: v([3, 16], 1), recurrent: v([4, 16], 2), bias: v([16], 3) } };
  const x = tf.randomUniform([2, 5, 3], -1, 1, "float32", 4) as tf.Tensor3D;
  const mask = tf.ones([2, 5]) as tf.Tensor2D;
  try {
    setCpuKernelThreads(1);
    const baseline = cpuKernelsInfo().bytesInUse;
    const tensors = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) lstmLayerCpu(x, mask, w).dispose();
    assert.equal(cpuKernelsInfo().bytesInUse, baseline, "inference must keep nothing");
    const { value, grads } = tf.variableGrads(() => tf.sum(lstmLayerCpu(x, mask, w)));
    assert.equal(cpuKernelsInfo().bytesInUse, baseline, "backward must free what forward kept");
    tf.dispose([value, ...Object.values(grads)]);
    assert.equal(tf.memory().numTensors, tensors);
  } finally {
    tf.dispose([x, mask, ...Object.values(w.forward)]);
    stopCpuKernels();
  }
});

Deno.test("lstmLayerCpu() outputs NaN as the positive quiet NaN, which tfjs-wasm's relu keeps", () => {
  const v = (s: number[], seed: number) => tf.randomUniform(s, -0.5, 0.5, "float32", seed);
  const w = { forward: { kernel: v([3, 16], 1), recurrent: v([4, 16], 2), bias: v([16], 3) } };
  const xs = new Float32Array(2 * 5 * 3).fill(0.1);
  xs[xs.length - 1] = NaN; // the last step of row 1: NaN from there on in that row only
  const x = tf.tensor3d(xs, [2, 5, 3]);
  const mask = tf.ones([2, 5]) as tf.Tensor2D;
  try {
    const out = lstmLayerCpu(x, mask, w);
    const relu = tf.relu(out);
    const [o, r] = [out.dataSync(), relu.dataSync()];
    const bits = new Uint32Array(new Float32Array(o).buffer);
    const nan = [...o.keys()].filter((i) => Number.isNaN(o[i]));
    assert.deepEqual(nan, [36, 37, 38, 39], "only row 1's last step is NaN");
    for (const i of nan) {
      assert.equal(bits[i], 0x7fc00000);
      assert.ok(Number.isNaN(r[i]), "relu must keep the NaN");
    }
    tf.dispose([out, relu]);
  } finally {
    tf.dispose([x, mask, ...Object.values(w.forward)]);
    stopCpuKernels();
  }
});
