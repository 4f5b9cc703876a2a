import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import assert from "#assert";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import {
  type CheckpointFiles,
  type EpochMetrics,
  modelConfigFor,
  NonFiniteLossError,
  predictProbabilities,
  readCheckpoint,
  restoreClassifier,
  type StepProgress,
  train,
  type TrainHooks,
} from "../../src/train/mod.ts";
import { withSettings } from "../../src/train/config.ts";
import { createLstmClassifier } from "../../src/model/mod.ts";
import { smallData, tinyConfig } from "./_data.ts";

const ignore = await skipUnlessPython("numpy", "sklearn");
await tf.setBackend("wasm");
assert.equal(tf.getBackend(), "wasm");
const data = ignore ? null! : await smallData();

/** Hooks that record everything. */
function recorder() {
  const epochs: EpochMetrics[] = [];
  const steps: StepProgress[] = [];
  const checkpoints: CheckpointFiles[] = [];
  const ends: string[] = [];
  const hooks: TrainHooks = {
    onEpochEnd: (m) => void epochs.push(m),
    onStep: (p) => void steps.push(p),
    onCheckpoint: (c) => void checkpoints.push(c),
    onEnd: (r) => void ends.push(r.status),
  };
  return { epochs, steps, checkpoints, ends, hooks };
}

Deno.test({
  name: "train() on wasm: loss falls and val macro-F1 beats the always-0 baseline (scikit-learn)",
  ignore,
  async fn() {
    const r = recorder();
    const config = tinyConfig({ epochs: 6, bidirectional: true, weightedLoss: true, dropout: 0.1 });
    const keys = { xKey: "sequences", yKey: "labels", lengthsKey: "seq_lengths" };
    const run = { runId: "0123456789abcdef0123456789abcdef", experimentId: "42" };
    const result = await train(config, { ...data, keys }, r.hooks, { run });
    assert.equal(result.status, "FINISHED");
    assert.deepEqual(r.ends, ["FINISHED"]);
    assert.equal(r.epochs.length, 6);
    const baseline = await pythonJson<number>(
      `import json; from sklearn.metrics import f1_score
y = ${JSON.stringify([...data.val.labels])}
print(json.dumps(f1_score(y, [0] * len(y), average="macro", labels=list(range(5)))))`,
    );
    const first = r.epochs[0], last = r.epochs.at(-1)!;
    console.log(
      `  train_loss ${first.train_loss.toFixed(3)} -> ${last.train_loss.toFixed(3)}, ` +
        `val macro-F1 ${last.val_macro_f1.toFixed(3)} vs always-0 ${baseline.toFixed(3)}`,
    );
    assert.ok(last.train_loss < 0.8 * first.train_loss, "training loss falls");
    assert.ok(Math.max(...r.epochs.map((m) => m.val_macro_f1)) > baseline + 0.1);
    assert.ok(r.epochs.every((m) => m.lr === 1e-2 && m.epoch_seconds > 0 && m.val_cost! >= 0));
    // Progress once per log interval (2) plus the epoch's last step: 5 steps -> 2, 4, 5.
    assert.deepEqual(r.steps.filter((s) => s.epoch === 1).map((s) => s.step), [2, 4, 5]);
    // best = the highest val macro-F1, ties to the lower val loss; last after every epoch.
    assert.equal(r.checkpoints.filter((c) => c.kind === "last").length, 6);
    const best = r.checkpoints.filter((c) => c.kind === "best").at(-1)!;
    const bestEpoch = r.epochs.reduce((a, b) =>
      b.val_macro_f1 > a.val_macro_f1 ||
        (b.val_macro_f1 === a.val_macro_f1 && b.val_loss < a.val_loss)
        ? b
        : a
    );
    // metrics count epochs from 0 (as the pipeline); checkpoints count finished epochs.
    assert.equal(best.epoch, bestEpoch.epoch + 1);
    assert.equal(result.bestValF1, bestEpoch.val_macro_f1);
    // The best checkpoint restores a model that reproduces that epoch's validation accuracy.
    const ckpt = readCheckpoint(best.files);
    assert.equal(ckpt.bestValF1, bestEpoch.val_macro_f1);
    // The checkpoint records the model config, the loop settings, the data keys and the run.
    assert.deepEqual(ckpt.loop, config.loop);
    assert.equal(ckpt.modelConfig.hiddenSize, config.model.hiddenSize);
    assert.deepEqual(ckpt.dataKeys, keys);
    assert.deepEqual(ckpt.run, run);
    // 5-class data without a task: Component X's; a temperature fitted on validation.
    assert.equal(ckpt.task?.name, "component-x");
    assert.deepEqual(ckpt.best, {
      metric: "val_macro_f1",
      value: bestEpoch.val_macro_f1,
      valLoss: bestEpoch.val_loss,
      epoch: bestEpoch.epoch + 1,
    });
    assert.ok(ckpt.temperature! > 0.01 && ckpt.temperature! < 100, `T ${ckpt.temperature}`);
    const model = restoreClassifier(ckpt);
    const probs = await predictProbabilities(model, data.val, { batchSize: 32 });
    model.dispose();
    const acc = probs.filter((p, i) => p.indexOf(Math.max(...p)) === data.val.labels[i]).length /
      data.val.size;
    assert.ok(
      Math.abs(acc - bestEpoch.val_acc) < 1e-9,
      `restored acc ${acc} vs ${bestEpoch.val_acc}`,
    );
    for (
      const name of [
        "state.json",
        "weights.safetensors",
        "optimizer.safetensors",
        "model.safetensors",
      ]
    ) {
      assert.ok(best.files[name]?.length > 0, `checkpoint holds ${name}`);
    }
  },
});

Deno.test({
  name:
    "train() resumed from epoch 1's last checkpoint ends with the same metrics as 2 straight epochs",
  ignore,
  async fn() {
    const config = tinyConfig({
      epochs: 2,
      dropout: 0.2,
      numLayers: 2,
      weightedSampler: true,
      bucketByLength: true,
    });
    const straight = recorder();
    await train(config, data, straight.hooks);
    const first = recorder();
    await train(withSettings(config, { epochs: 1 }), data, first.hooks);
    const last = first.checkpoints.find((c) => c.kind === "last")!;
    const resumed = recorder();
    await train(config, data, resumed.hooks, { resume: last.files });
    assert.equal(resumed.epochs.length, 1);
    const strip = ({ epoch_seconds: _, ...m }: EpochMetrics) => m;
    assert.deepEqual(strip(resumed.epochs[0]), strip(straight.epochs[1]));
  },
});

Deno.test({
  name:
    "train() aborted mid-epoch writes last with status KILLED, and resuming matches a straight run",
  ignore,
  async fn() {
    const config = tinyConfig({ epochs: 1, dropout: 0.2, logInterval: 100 });
    const straight = recorder();
    await train(config, data, straight.hooks);
    const killed = recorder();
    // Abort after the 2nd step: the loop notices after finishing the current step.
    let count = 0;
    const signal = {
      get aborted() {
        return ++count >= 2;
      },
    } as AbortSignal;
    const result = await train(config, data, killed.hooks, { signal });
    assert.equal(result.status, "KILLED");
    assert.deepEqual(killed.ends, ["KILLED"]);
    assert.equal(killed.epochs.length, 0);
    const last = killed.checkpoints.at(-1)!;
    assert.equal(last.kind, "last");
    const state = readCheckpoint(last.files);
    assert.equal(state.epoch, 0);
    assert.equal(state.stepInEpoch, 2);
    const resumed = recorder();
    await train(config, data, resumed.hooks, { resume: last.files });
    const strip = ({ epoch_seconds: _, ...m }: EpochMetrics) => m;
    assert.deepEqual(strip(resumed.epochs[0]), strip(straight.epochs[0]));
  },
});

Deno.test({
  name: "train() keeps tf.memory().numTensors flat over steps and epochs",
  ignore,
  async fn() {
    const counts: number[] = [];
    const before = tf.memory().numTensors;
    await train(tinyConfig({ epochs: 2, logInterval: 1, gradClip: 1, focalLoss: true }), data, {
      onStep: () => void counts.push(tf.memory().numTensors),
    });
    assert.ok(counts.length >= 10);
    assert.equal(new Set(counts).size, 1, `tensor counts per step: ${counts}`);
    assert.equal(tf.memory().numTensors, before, "everything disposed at the end");
  },
});

Deno.test({
  name: "train() stops on a non-finite loss, naming epoch, steps and lr, with status FAILED",
  ignore,
  async fn() {
    const ends: string[] = [];
    const bad = { ...data.train, x: data.train.x.slice() };
    bad.x[bad.x.length - 1] = NaN; // the last row's last (valid) step: NaN propagates to the loss
    await assert.rejects(
      () =>
        train(tinyConfig({ epochs: 1, logInterval: 100 }), { train: bad, val: data.val }, {
          onEnd: (r) => void ends.push(r.status),
        }),
      (e: Error) =>
        e instanceof NonFiniteLossError && e instanceof RangeError &&
        /^Cannot continue training: the loss became non-finite \(NaN\) in epoch 1, steps 1-5 of 5, at lr 0\.01; lower the learning rate/
          .test(e.message) &&
        e.epoch === 1 && e.steps[0] === 1 && e.steps[1] === 5 && e.lr === 0.01,
    );
    assert.deepEqual(ends, ["FAILED"]);
  },
});

Deno.test({
  name: "train() rejects validation data whose feature count differs, naming both counts",
  ignore,
  async fn() {
    const val = { ...data.val, features: 4 };
    await assert.rejects(
      () => train(tinyConfig(), { train: data.train, val }),
      (e: Error) =>
        e instanceof RangeError &&
        e.message ===
          "Cannot train: the validation data has 4 features per step but the training data " +
            "has 3; pass validation data from the same pipeline",
    );
  },
});

Deno.test({
  name: "train() stops early after --patience epochs without a val macro-F1 gain",
  ignore,
  async fn() {
    // lr 0: the weights never change, so val macro-F1 never improves after epoch 1.
    const r = recorder();
    const result = await train(tinyConfig({ epochs: 5, patience: 2, lr: 0 }), data, r.hooks);
    assert.equal(result.status, "FINISHED");
    assert.deepEqual(r.epochs.map((m) => m.epoch), [0, 1, 2]);
    assert.equal(new Set(r.epochs.map((m) => m.val_macro_f1)).size, 1);
  },
});

Deno.test({
  name: "predictProbabilities() in length-sorted batches equals row-by-row prediction",
  ignore,
  async fn() {
    const model = createLstmClassifier(
      modelConfigFor(tinyConfig({ bidirectional: true }).model, data.val),
      { seed: 5 },
    );
    try {
      const batched = await predictProbabilities(model, data.val, { batchSize: 32 });
      const single = await predictProbabilities(model, data.val, { batchSize: 1 });
      assert.equal(batched.length, data.val.size);
      batched.forEach((p, i) => {
        assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-5, `row ${i} sums to 1`);
        p.forEach((v, c) => assert.ok(Math.abs(v - single[i][c]) < 1e-5, `row ${i} class ${c}`));
      });
    } finally {
      model.dispose();
    }
  },
});
