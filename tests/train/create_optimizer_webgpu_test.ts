import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import assert from "#assert";
import { skipUnlessPython } from "../_python.ts";
import { useWebGpuOrSkip, webGpuTest } from "../_webgpu.ts";
import { maxRelativeError as maxRel } from "../_numeric.ts";
import { installDispatchCounter } from "../../src/kernels/mod.ts";
import { createLstmClassifier } from "../../src/model/mod.ts";
import {
  AdamW,
  type AdamWState,
  classificationLoss,
  createOptimizer,
  type EpochMetrics,
  type OptimizedVariable,
  readCheckpoint,
  train,
  type TrainOptimizer,
} from "../../src/train/mod.ts";
import { withSettings } from "../../src/train/config.ts";
import { smallData, tinyConfig } from "./_data.ts";

// Tiny sizes: every new shader costs seconds on the software adapter.
const adapter = await useWebGpuOrSkip("fused-optimizer training tests");

const SHAPES = [[5, 12], [12], [3, 7]];

function namedVariables(seed: number, tag: string): OptimizedVariable[] {
  return SHAPES.map((shape, i) => ({
    name: `p${i}`,
    // tidy: tf.variable() keeps its own reference to the values.
    variable: tf.tidy(() =>
      tf.variable(tf.randomNormal(shape, 0, 1, "float32", seed + i), true, `cof_${tag}_${i}`)
    ),
  }));
}

async function assertSame(
  fused: TrainOptimizer,
  fusedVars: OptimizedVariable[],
  ref: TrainOptimizer,
  refVars: OptimizedVariable[],
  when: string,
): Promise<void> {
  const [fs, rs] = [await fused.getState(), await ref.getState()];
  assert.equal(fs.step, rs.step, `step ${when}`);
  for (let i = 0; i < SHAPES.length; i++) {
    const name = refVars[i].name;
    const p = (await fusedVars[i].variable.data()) as Float32Array;
    const e = (await refVars[i].variable.data()) as Float32Array;
    for (
      const [what, a, b] of [["param", p, e], ["m", fs.m[name], rs.m[name]], [
        "v",
        fs.v[name],
        rs.v[name],
      ]] as const
    ) {
      const rel = maxRel(a, b);
      assert.ok(rel < 1e-5, `${what} of ${name} ${when}: max relative error ${rel}`);
    }
  }
}

function grads(step: number): tf.Tensor[] {
  return SHAPES.map((shape, i) => tf.randomNormal(shape, 0, 1, "float32", 100 * step + i));
}

webGpuTest(import.meta.url, {
  name: "createOptimizer() on webgpu: fused AdamW equals the tf-op AdamW, also across setState",
  ignore: !adapter,
  async fn() {
    const a = namedVariables(1, "fused");
    const b = namedVariables(1, "ref");
    const opts = { weightDecay: 0.01 };
    let fused = createOptimizer(a, opts);
    let ref: TrainOptimizer = new AdamW(b, opts);
    assert.ok(!(fused instanceof AdamW), "webgpu picks the fused optimizer");
    const lrs = [1e-2, 5e-3, 2e-2, 1e-2, 3e-3];
    const update = (s: number) => {
      const g = grads(s);
      fused.applyGradients(g, lrs[s]);
      ref.applyGradients(g, lrs[s]);
      tf.dispose(g);
    };
    for (let s = 0; s < 3; s++) update(s);
    await assertSame(fused, a, ref, b, "after 3 steps");

    // Round trip across implementations: each continues from the other's state.
    const [fusedState, refState] = [await fused.getState(), await ref.getState()];
    fused.dispose();
    ref.dispose();
    fused = createOptimizer(a, opts);
    ref = new AdamW(b, opts);
    fused.setState(refState);
    ref.setState(fusedState);
    assert.equal(fused.step, 3);
    for (let s = 3; s < 5; s++) update(s);
    await assertSame(fused, a, ref, b, "after setState and 2 more steps");

    const bad: AdamWState = { ...refState, m: { ...refState.m, p1: new Float32Array(3) } };
    assert.throws(() => fused.setState(bad), {
      name: "RangeError",
      message: 'Cannot restore AdamW state: m for "p1" expected 12 values, received 3',
    });
    fused.dispose();
    ref.dispose();
    for (const v of [...a, ...b]) v.variable.dispose();
  },
});

webGpuTest(import.meta.url, {
  name: "one training step on webgpu: dispatches with the tf-op AdamW vs the fused AdamW",
  ignore: !adapter || (await skipUnlessPython("numpy")),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const config = tinyConfig({ hiddenSize: 4, batchSize: 16, dropout: 0, logInterval: 1 });
    const modelConfig = {
      inputSize: 3,
      hiddenSize: config.model.hiddenSize,
      numLayers: config.model.numLayers,
      bidirectional: config.model.bidirectional,
      dropout: 0,
      pooling: config.model.pooling,
      numClasses: 5,
      lstmImpl: config.model.lstmImpl,
    };
    const x = tf.randomNormal([16, 8, 3], 0, 1, "float32", 3) as tf.Tensor3D;
    const mask = tf.ones([16, 8]) as tf.Tensor2D;
    const labels = tf.tensor1d(Array.from({ length: 16 }, (_, i) => i % 5), "int32");
    const counter = installDispatchCounter();
    const stepDispatches = async (make: (v: readonly OptimizedVariable[]) => TrainOptimizer) => {
      const model = createLstmClassifier(modelConfig, { seed: 5 });
      const opt = make(model.namedVariables);
      const vars = model.namedVariables.map((v) => v.variable);
      const step = () =>
        tf.tidy(() => {
          const { grads } = tf.variableGrads(
            () => classificationLoss(model.apply(x, mask, { training: true }), labels, {}),
            vars,
          );
          opt.applyGradients(vars.map((v) => grads[v.name]), 1e-2);
        });
      step(); // warm-up: shader compiles
      await vars[vars.length - 1].data();
      counter.reset();
      step();
      await vars[vars.length - 1].data();
      const count = counter.count;
      opt.dispose();
      model.dispose();
      return { count, tensors: vars.length };
    };
    try {
      const before = await stepDispatches((v) => new AdamW(v, { weightDecay: 1e-4 }));
      const after = await stepDispatches((v) => createOptimizer(v, { weightDecay: 1e-4 }));

      // train() itself: dispatches between two onStep reports (logInterval 1) = one step.
      const data = await smallData(32, 16, 8, 3);
      const perStep: number[] = [];
      await train(withSettings(config, { epochs: 1 }), data, {
        onStep: () => {
          perStep.push(counter.count);
          counter.reset();
        },
      }, { stepMultiple: 8 });
      console.log(
        `  dispatches per training step (${after.tensors} parameter tensors): ` +
          `tf-op AdamW ${before.count}, fused AdamW ${after.count}; ` +
          `train() step 2 on webgpu: ${perStep[1]}`,
      );
      assert.ok(
        before.count - after.count >= 6 * after.tensors,
        `fused saves >= 6 dispatches per tensor: ${before.count} -> ${after.count}`,
      );
      assert.ok(perStep[1] < before.count, `train() uses the fused optimizer: ${perStep[1]}`);
      assert.ok(perStep[1] <= 300, `train() step within 300 dispatches: ${perStep[1]}`);
    } finally {
      counter.uninstall();
      tf.dispose([x, mask, labels]);
    }
  },
});

webGpuTest(import.meta.url, {
  name: "train() on webgpu resumed from epoch 1's last checkpoint ends like 2 straight epochs",
  ignore: !adapter || (await skipUnlessPython("numpy")),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const data = await smallData(48, 16, 8, 3);
    const config = tinyConfig({ epochs: 2, batchSize: 16, hiddenSize: 4, dropout: 0.2 });
    const run = async (c: typeof config, resume?: Record<string, Uint8Array>) => {
      const epochs: EpochMetrics[] = [];
      let last: Record<string, Uint8Array> | undefined;
      await train(c, data, {
        onEpochEnd: (m) => void epochs.push(m),
        onCheckpoint: (ck) => {
          if (ck.kind === "last") last = ck.files;
        },
      }, { stepMultiple: 8, resume });
      return { epochs, last: last! };
    };
    const straight = await run(config);
    const first = await run(withSettings(config, { epochs: 1 }));
    assert.equal(readCheckpoint(first.last).optimizer?.step, 3, "3 fused updates saved");
    const resumed = await run(config, first.last);
    assert.equal(resumed.epochs.length, 1);
    const strip = ({ epoch_seconds: _, ...m }: EpochMetrics) => m;
    assert.deepEqual(strip(resumed.epochs[0]), strip(straight.epochs[1]));
  },
});
