/**
 * WebGPU matmul benches: `matMulWebGpu()` (the register-tiled kernel the LSTM layer uses)
 * against tfjs' own `tf.matMul` on the products of one W training step, side by side in
 * one run. GFLOP/s = 2*M*K*N / time. Registered only when a WebGPU adapter exists.
 *
 *   MESA_SHADER_CACHE_DIR=$HOME/.cache/component-x-mesa deno bench -A bench/matmul_bench.ts
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import { probeWebGpuAdapter } from "../src/runtime/mod.ts";
import { matMulWebGpu } from "../src/kernels/mod.ts";

interface Product {
  readonly name: string;
  readonly a: number[];
  readonly b: number[];
  readonly transposeA: boolean;
  readonly transposeB: boolean;
}

// W: batch 64 x 128 steps = 8192 rows, hidden 128, 2 directions (1024 gate columns).
const PRODUCTS: Product[] = [
  {
    name: "layer-2 projection [8192,256] x [256,1024]",
    a: [8192, 256],
    b: [256, 1024],
    transposeA: false,
    transposeB: false,
  },
  {
    name: "layer-2 kernel gradient [8192,256]^T x [8192,1024]",
    a: [8192, 256],
    b: [8192, 1024],
    transposeA: true,
    transposeB: false,
  },
  {
    name: "layer-2 input gradient [8192,1024] x [256,1024]^T",
    a: [8192, 1024],
    b: [256, 1024],
    transposeA: false,
    transposeB: true,
  },
];

const adapter = await probeWebGpuAdapter();
if (!adapter) {
  console.warn("\n*** No WebGPU adapter: the matmul benches are skipped ***\n");
} else {
  await tf.setBackend("webgpu");
  await tf.ready();
  for (const p of PRODUCTS) {
    const a = tf.randomUniform(p.a, -1, 1);
    const b = tf.randomUniform(p.b, -1, 1);
    const impls = {
      "tf.matMul": () => tf.matMul(a, b, p.transposeA, p.transposeB),
      matMulWebGpu: () => matMulWebGpu(a, b, p), // p carries transposeA / transposeB
    };
    for (const [impl, run] of Object.entries(impls)) {
      let warm = false;
      Deno.bench({
        name: impl,
        group: `${p.name} (${adapter.description})`,
        baseline: impl === "tf.matMul",
        n: 5,
        warmup: 1,
        async fn(t) {
          if (!warm) {
            const y = run(); // shader compile stays out of the timing
            await y.data();
            y.dispose();
            warm = true;
          }
          t.start();
          const y = run();
          await y.data();
          t.end();
          y.dispose();
        },
      });
    }
  }
}
