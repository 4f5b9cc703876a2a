import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import assert from "#assert";
import { runPython, skipUnlessPython } from "../_python.ts";
import { createSequenceDataset } from "../../src/data/mod.ts";
import { readNpz } from "../../src/npz/mod.ts";
import {
  type CheckpointFiles,
  type EpochMetrics,
  isBetterCheckpoint,
  metricsCsv,
  readCheckpoint,
  train,
} from "../../src/train/mod.ts";
import { genericTask, parseTask } from "../../src/metrics/mod.ts";
import { tinyConfig } from "./_data.ts";

const ignore = await skipUnlessPython("numpy");
await tf.setBackend("wasm");

Deno.test("isBetterCheckpoint() compares the promotion metric, then the val loss", async (t) => {
  const at = (metric: string, value: number, valLoss: number) => ({
    metric,
    value,
    valLoss,
    epoch: 1,
  });
  const table: [string, ReturnType<typeof at>, ReturnType<typeof at> | null, boolean][] = [
    ["anything beats nothing", at("val_macro_f1", 0, 9), null, true],
    ["higher macro-F1", at("val_macro_f1", 0.6, 2), at("val_macro_f1", 0.5, 1), true],
    ["lower macro-F1", at("val_macro_f1", 0.4, 0.1), at("val_macro_f1", 0.5, 1), false],
    ["same macro-F1, lower loss", at("val_macro_f1", 1, 0.2), at("val_macro_f1", 1, 0.3), true],
    ["same macro-F1, same loss", at("val_macro_f1", 1, 0.3), at("val_macro_f1", 1, 0.3), false],
    ["same macro-F1, higher loss", at("val_macro_f1", 1, 0.4), at("val_macro_f1", 1, 0.3), false],
    ["lower cost", at("val_cost", 90, 2), at("val_cost", 100, 1), true],
    ["higher cost", at("val_cost", 110, 0.1), at("val_cost", 100, 1), false],
    ["same cost, lower loss", at("val_cost", 100, 0.5), at("val_cost", 100, 1), true],
    ["higher accuracy", at("val_acc", 0.9, 2), at("val_acc", 0.8, 1), true],
  ];
  for (const [name, candidate, best, expected] of table) {
    await t.step(name, () => assert.equal(isBetterCheckpoint(candidate, best), expected));
  }
});

/** numpy: 3 well-separated classes, a 6-row validation set that reaches macro-F1 1.0 early. */
async function separable(n: number, seed: number) {
  const hex = await runPython(`
import io, sys, numpy as np
rng = np.random.default_rng(${seed}); n = ${n}
y = np.arange(n) % 3; L = rng.integers(3, 7, size=n)
x = rng.normal(size=(n, 6, 2)).astype(np.float32) * 0.2; x[:, :, 0] += y[:, None] * 2.0
for i in range(n): x[i, : 6 - L[i]] = 0
buf = io.BytesIO()
np.savez_compressed(buf, sequences=x, labels=y.astype(np.int64), seq_lengths=L.astype(np.int64))
sys.stdout.write(buf.getvalue().hex())`);
  return createSequenceDataset(readNpz(Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16))));
}

Deno.test({
  name:
    "train() keeps improving the best checkpoint after a tiny val set reaches macro-F1 1.0 (ties to the lower val loss)",
  ignore,
  async fn() {
    const data = { train: await separable(96, 1), val: await separable(6, 2) };
    const epochs: EpochMetrics[] = [];
    const best: CheckpointFiles[] = [];
    const result = await train(tinyConfig({ epochs: 8, lr: 3e-2 }), data, {
      onEpochEnd: (m) => void epochs.push(m),
      onCheckpoint: (c) => void (c.kind === "best" && best.push(c)),
    });
    assert.equal(result.task.name, "3-class");
    const perfect = epochs.filter((m) => m.val_macro_f1 === 1);
    assert.ok(perfect.length >= 2, `macro-F1 1.0 in ${perfect.length} epochs; the test needs ties`);
    const lowest = perfect.reduce((a, b) => (b.val_loss < a.val_loss ? b : a));
    assert.ok(lowest.epoch > perfect[0].epoch, "the loss keeps falling after the first 1.0");
    const last = readCheckpoint(best.at(-1)!.files);
    // Metrics count epochs from 0 (as the pipeline); checkpoints count finished epochs.
    assert.equal(last.epoch, lowest.epoch + 1);
    assert.deepEqual(result.best, {
      metric: "val_macro_f1",
      value: 1,
      valLoss: lowest.val_loss,
      epoch: lowest.epoch + 1,
    });
    // No cost matrix: no val_cost in the metrics or in metrics.csv.
    assert.ok(epochs.every((m) => !("val_cost" in m)));
    assert.equal(
      metricsCsv(epochs).split("\n")[0],
      "epoch,train_loss,train_acc,val_loss,val_acc,val_macro_f1,lr,epoch_seconds",
    );
  },
});

Deno.test({
  name:
    "train() refuses a task with fewer classes than the labels, and resuming under another task",
  ignore,
  async fn() {
    const data = { train: await separable(12, 3), val: await separable(6, 4) };
    await assert.rejects(
      () => train(tinyConfig({ epochs: 1 }), { ...data, task: genericTask(2) }),
      {
        name: "RangeError",
        message:
          "Cannot use the training data: label[2] = 2 is outside 0..1 (2 classes from the task's 2 class names)",
      },
    );
    let last: CheckpointFiles | undefined;
    await train(tinyConfig({ epochs: 1 }), data, { onCheckpoint: (c) => void (last = c) });
    const other = parseTask({
      class_names: ["a", "b", "c"],
      cost_matrix: [[0, 1, 1], [1, 0, 1], [1, 1, 0]],
    });
    await assert.rejects(
      () => train(tinyConfig({ epochs: 2 }), { ...data, task: other }, {}, { resume: last!.files }),
      {
        name: "RangeError",
        message: /^Cannot resume: the checkpoint's task .* differs from this run's/,
      },
    );
  },
});
