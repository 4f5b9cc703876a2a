import assert from "#assert";
import { runPython, skipUnlessPython } from "../_python.ts";
import { readNpz } from "../../src/npz/mod.ts";
import {
  createSequenceDataset,
  epochBatches,
  gatherBatch,
  withNumClasses,
} from "../../src/data/mod.ts";

const ignore = await skipUnlessPython("numpy");

/** numpy writes an npz (np.savez_compressed) from a script that defines a dict `arrays`. */
async function numpyNpz(body: string): Promise<Uint8Array> {
  const hex = await runPython(`
import io, sys, numpy as np
rng = np.random.default_rng(3)
${body}
buf = io.BytesIO(); np.savez_compressed(buf, **arrays); sys.stdout.write(buf.getvalue().hex())`);
  return Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16));
}

Deno.test({
  name: "createSequenceDataset() reads window and feature count from a numpy npz",
  ignore,
  async fn() {
    const bytes = await numpyNpz(`
x = rng.normal(size=(4, 7, 3)).astype(np.float32)
arrays = dict(sequences=x, labels=np.array([0, 4, 2, 1], dtype=np.int64),
              seq_lengths=np.array([7, 1, 3, 5], dtype=np.int64))`);
    const d = createSequenceDataset(readNpz(bytes));
    assert.equal(d.size, 4);
    assert.equal(d.steps, 7);
    assert.equal(d.features, 3);
    assert.deepEqual([...d.labels], [0, 4, 2, 1]);
    assert.deepEqual([...d.lengths], [7, 1, 3, 5]);
  },
});

Deno.test({
  name: "createSequenceDataset() turns a right-padded mask into pre-padding",
  ignore,
  async fn() {
    // Row i has (i + 1) valid steps at the START; numpy computes the pre-padded expectation.
    const bytes = await numpyNpz(`
x = rng.normal(size=(3, 5, 2)).astype(np.float32)
mask = np.zeros((3, 5), dtype=bool)
for i in range(3): mask[i, : i + 1] = True
expected = np.zeros_like(x)
for i in range(3): expected[i, 5 - (i + 1):] = x[i, : i + 1]
arrays = dict(feats=x, y=np.array([1, 0, 3]), mask=mask, expected=expected)`);
    const arrays = readNpz(bytes);
    const d = createSequenceDataset(arrays, { xKey: "feats", yKey: "y" });
    assert.deepEqual([...d.lengths], [1, 2, 3]);
    assert.deepEqual([...d.x], [...(arrays.expected.data as Float32Array)]);
  },
});

Deno.test({
  name:
    "createSequenceDataset() names the members present when lengths and mask are missing, and the caller's name of the key option",
  ignore,
  async fn() {
    const bytes = await numpyNpz(`
arrays = dict(sequences=np.zeros((2, 3, 1), np.float32), labels=np.array([0, 1]))`);
    assert.throws(
      () =>
        createSequenceDataset(readNpz(bytes), {
          source: "--train-npz t.npz",
          keyLabels: { lengthsKey: "--lengths-key" },
        }),
      (e: Error) =>
        e instanceof RangeError &&
        e.message ===
          `Cannot load sequences from --train-npz t.npz: it has neither "seq_lengths" nor "mask" ` +
            "(members: sequences, labels); name the lengths member with --lengths-key",
    );
    assert.throws(
      () => createSequenceDataset(readNpz(bytes), { xKey: "X", source: "v.npz" }),
      (e: Error) =>
        e instanceof RangeError &&
        e.message ===
          `Cannot load sequences from v.npz: no member "X" (members: sequences, labels); ` +
            "name the right one with the xKey option",
    );
  },
});

Deno.test({
  name:
    "createSequenceDataset() takes K from the labels (largest + 1) unless given; a label outside 0..K-1 is an error",
  ignore,
  async fn() {
    const bytes = await numpyNpz(`
arrays = dict(sequences=np.zeros((4, 3, 1), np.float32), labels=np.array([0, 8, 2, 1]),
              seq_lengths=np.array([1, 2, 3, 3]))`);
    const d = createSequenceDataset(readNpz(bytes));
    assert.equal(d.numClasses, 9);
    assert.equal(createSequenceDataset(readNpz(bytes), { numClasses: 12 }).numClasses, 12);
    assert.throws(
      () =>
        createSequenceDataset(readNpz(bytes), {
          numClasses: 5,
          numClassesSource: "--num-classes 5",
          source: "--val-npz v.npz",
        }),
      {
        name: "RangeError",
        message:
          'Cannot load sequences from --val-npz v.npz: "labels"[1] = 8 is outside 0..4 (5 classes from --num-classes 5)',
      },
    );
    assert.equal(withNumClasses(d, 10).numClasses, 10);
    assert.throws(() => withNumClasses(d, 4, "the validation data", "the task's 4 class names"), {
      name: "RangeError",
      message:
        "Cannot use the validation data: label[1] = 8 is outside 0..3 (4 classes from the task's 4 class names)",
    });
    const negative = await numpyNpz(`
arrays = dict(sequences=np.zeros((2, 3, 1), np.float32), labels=np.array([0, -1]),
              seq_lengths=np.array([1, 2]))`);
    assert.throws(() => createSequenceDataset(readNpz(negative), { source: "t.npz" }), {
      name: "RangeError",
      message:
        'Cannot load sequences from t.npz: "labels"[1] = -1 is outside 0..0; labels must be class indices 0..K-1',
    });
  },
});

Deno.test("gatherBatch() trims each batch to its longest valid length, keeping the last steps", () => {
  // 3 rows, window 4, 1 feature; value = 10 * row + step.
  const x = Float32Array.from({ length: 12 }, (_, k) => 10 * Math.floor(k / 4) + (k % 4));
  const data = {
    x,
    labels: Int32Array.from([0, 1, 2]),
    lengths: Int32Array.from([1, 2, 4]),
    size: 3,
    steps: 4,
    features: 1,
    numClasses: 5,
  };
  const b = gatherBatch(data, [1, 0]);
  assert.equal(b.steps, 2);
  assert.deepEqual([...b.x], [12, 13, 2, 3]);
  assert.deepEqual([...b.mask], [1, 1, 0, 1]);
  assert.deepEqual([...b.labels], [1, 0]);
  const rounded = gatherBatch(data, [0], 3);
  assert.equal(rounded.steps, 3);
  assert.deepEqual([...rounded.mask], [0, 0, 1]);
  assert.equal(gatherBatch(data, [2, 0], 8).steps, 4, "never longer than the window");
});

Deno.test("epochBatches() is a permutation determined by (seed, epoch)", () => {
  const labels = new Int32Array(50);
  const flat = (bs: Int32Array[]) => bs.flatMap((b) => [...b]);
  const a = epochBatches(labels, { batchSize: 8, seed: 1, epoch: 0 });
  assert.equal(a.length, 7);
  assert.deepEqual([...flat(a)].sort((p, q) => p - q), [...Array(50).keys()]);
  assert.deepEqual(flat(epochBatches(labels, { batchSize: 8, seed: 1, epoch: 0 })), flat(a));
  assert.notDeepEqual(flat(epochBatches(labels, { batchSize: 8, seed: 1, epoch: 1 })), flat(a));
});

Deno.test("epochBatches() weighted sampler draws each class about equally often", () => {
  // 900 rows of class 0, 100 of class 1: sampling with p = 1/n_c balances them.
  const labels = Int32Array.from({ length: 1000 }, (_, i) => (i < 900 ? 0 : 1));
  let ones = 0, total = 0;
  for (let epoch = 0; epoch < 5; epoch++) {
    for (
      const b of epochBatches(labels, { batchSize: 64, seed: 9, epoch, weightedSampler: true })
    ) {
      for (const r of b) ones += labels[r], total++;
    }
  }
  assert.equal(total, 5000);
  // Binomial(5000, 0.5): sd ~35, so +-200 is > 5 sd.
  assert.ok(Math.abs(ones - 2500) < 200, `class 1 drawn ${ones} of ${total}`);
});

Deno.test("epochBatches() with bucketLengths groups similar lengths and still covers every row once", () => {
  // Lengths 1..128 in a scrambled order: random batches of 16 nearly always hold a long row.
  const n = 1024;
  const lengths = Int32Array.from({ length: n }, (_, i) => 1 + ((i * 37) % 128));
  const labels = new Int32Array(n);
  const meanMax = (bs: Int32Array[]) =>
    bs.reduce((a, b) => a + Math.max(...[...b].map((r) => lengths[r])), 0) / bs.length;
  const plain = epochBatches(labels, { batchSize: 16, seed: 3, epoch: 1 });
  const bucketed = epochBatches(labels, {
    batchSize: 16,
    seed: 3,
    epoch: 1,
    bucketLengths: lengths,
  });
  assert.deepEqual(bucketed.flatMap((b) => [...b]).sort((a, b) => a - b), [...Array(n).keys()]);
  assert.ok(meanMax(plain) > 110, `plain mean trimmed length ${meanMax(plain)}`);
  assert.ok(meanMax(bucketed) < 75, `bucketed mean trimmed length ${meanMax(bucketed)}`);
  const again = epochBatches(labels, { batchSize: 16, seed: 3, epoch: 1, bucketLengths: lengths });
  assert.deepEqual(again.map((b) => [...b]), bucketed.map((b) => [...b]), "deterministic");
});
