import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import "@tensorflow/tfjs-backend-webgpu";
import assert from "#assert";
import { parsePerfArgs } from "../../bench/perf/perf.ts";
import { useWebGpuOrSkip, webGpuTest } from "../_webgpu.ts";
import { installDispatchCounter, lstmLayerWebGpu, type LstmLayerWeights } from "../../mod.ts";
import { lstmStepFlops, measureTrainingStep, PERF_WORKLOADS } from "../../bench/perf/workload.ts";

Deno.test("parsePerfArgs() rejects unknown flags and bad values, naming the allowed ones", async (t) => {
  const cases: [string[], RegExp, new (...a: never[]) => Error][] = [
    [
      ["--workload", "W-huge"],
      /Cannot use --workload "W-huge": expected one of W, W-small, W-tiny/,
      RangeError,
    ],
    [
      ["--backend", "cuda9"],
      /Cannot use --backend "cuda9": expected one of auto, webgpu, wasm, cpu/,
      RangeError,
    ],
    [["--steps", "0"], /Cannot use --steps "0": expected an integer >= 1/, RangeError],
    [["--impls", "layers,cudnn"], /"cudnn" is not one of fused, layers/, RangeError],
    [["--epoch", "--rows", "0"], /Cannot use --rows "0": expected an integer >= 1/, RangeError],
    [["--val-rows", "x"], /Cannot use --val-rows "x": expected an integer >= 1/, RangeError],
    [["--fast"], /Cannot parse the perf flags: .*--fast.*allowed flags: --workload/, TypeError],
  ];
  for (const [args, message, cls] of cases) {
    await t.step(args.join(" "), () => {
      assert.throws(() => parsePerfArgs(args), (e: unknown) => {
        assert.ok(e instanceof cls, `expected ${cls.name}, got ${e}`);
        assert.match((e as Error).message, message);
        return true;
      });
    });
  }
  const ok = parsePerfArgs(["--workload", "W", "--steps", "2", "--numpy", "--json"]);
  assert.equal(ok.workload.batch, 64);
  assert.equal(ok.steps, 2);
  assert.deepEqual(ok.impls, ["fused", "layers"]);
  assert.equal(ok.backend, "webgpu");
  assert.equal(ok.torch, false);
  assert.equal(ok.warmUpShaders, true);
  // --epoch: the auto-selected backend and the real training split's size by default.
  const epoch = parsePerfArgs(["--epoch", "--torch"]);
  assert.equal(epoch.epoch, true);
  assert.equal(epoch.backend, "auto");
  assert.equal(epoch.rows, 23550);
  assert.equal(epoch.valRows, 1024);
  assert.equal(epoch.torch, true);
  assert.equal(parsePerfArgs(["--epoch", "--backend", "wasm", "--rows", "640"]).rows, 640);
  assert.equal(parsePerfArgs(["--no-shader-warm-up"]).warmUpShaders, false);
});

Deno.test("lstmStepFlops() counts 3 x (projection + recurrence) per layer and direction", () => {
  // W, written out by hand: layer 0 In=105, layer 1 In=256; B*T=8192, 4H=512, 2 directions.
  const expected = 3 * 2 * 2 * 8192 * 512 * (105 + 128) + 3 * 2 * 2 * 8192 * 512 * (256 + 128);
  assert.equal(lstmStepFlops(PERF_WORKLOADS.W), expected);
});

Deno.test("measureTrainingStep() on wasm: fused and layers start from the same loss and both train", async () => {
  await tf.setBackend("wasm");
  await tf.ready();
  const w = PERF_WORKLOADS["W-tiny"];
  const layers = await measureTrainingStep(w, "layers", { steps: 2 });
  const fused = await measureTrainingStep(w, "fused", { steps: 2 });
  assert.ok(Math.abs(layers.lossFirst - fused.lossFirst) < 1e-5 * Math.abs(layers.lossFirst));
  assert.ok(Math.abs(layers.lossLast - fused.lossLast) < 1e-4 * Math.abs(layers.lossLast));
  assert.ok(fused.lossLast < fused.lossFirst, "the loss must drop over 3 Adam steps");
  assert.equal(fused.dispatchesPerStep, null);
  assert.ok(fused.kernelsPerStep > 0 && fused.kernelsPerStep < layers.kernelsPerStep);
  assert.equal(fused.stepsMs.length, 2);
});

const adapter = await useWebGpuOrSkip("WebGPU dispatch tests");

webGpuTest(import.meta.url, {
  name: "lstmLayerWebGpu() forward + backward dispatch count does not grow with the steps",
  ignore: !adapter,
  async fn() {
    await tf.setBackend("webgpu");
    await tf.ready();
    const counter = installDispatchCounter();
    try {
      const counts: number[] = [];
      for (const steps of [3, 9]) {
        const [B, In, H] = [2, 4, 6];
        const dir = () => ({
          kernel: tf.variable(tf.randomNormal([In, 4 * H], 0, 0.3, "float32", 1)),
          recurrent: tf.variable(tf.randomNormal([H, 4 * H], 0, 0.3, "float32", 2)),
          bias: tf.variable(tf.zeros([4 * H])),
        });
        const w: LstmLayerWeights = { forward: dir(), backward: dir() };
        const x = tf.randomNormal([B, steps, In], 0, 1, "float32", 3) as tf.Tensor3D;
        const mask = tf.ones([B, steps]) as tf.Tensor2D;
        await x.data();
        await mask.data();
        counter.reset();
        const { value, grads } = tf.variableGrads(() => tf.sum(lstmLayerWebGpu(x, mask, w)));
        await value.data();
        counts.push(counter.count);
        tf.dispose([value, x, mask, ...Object.values(grads)]);
        for (const d of [w.forward, w.backward!]) tf.dispose([d.kernel, d.recurrent, d.bias]);
      }
      console.log(`  dispatches for steps 3 and 9: ${counts.join(", ")}`);
      assert.equal(counts[0], counts[1]);
      assert.ok(counts[0] < 40, `expected < 40 dispatches, got ${counts[0]}`);
    } finally {
      counter.uninstall();
    }
  },
});
