import assert from "#assert";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import { classCounts, classWeights } from "../../src/data/mod.ts";

const ignore = await skipUnlessPython("numpy");

Deno.test({
  name: "classWeights() follows the contract's formula on the real training counts",
  ignore,
  async fn() {
    const counts = [21278, 2232, 2150, 1923, 2000];
    const want = await pythonJson<number[]>(
      `import json, numpy as np
c = np.array(${JSON.stringify(counts)}, dtype=float)
w = np.sqrt(c.sum() / (len(c) * c)); w = w * len(c) / w.sum()
print(json.dumps(w.tolist()))`,
    );
    const got = classWeights(counts);
    got.forEach((w, i) =>
      assert.ok(Math.abs(w - want[i]) < 1e-12, `class ${i}: ${w} vs ${want[i]}`)
    );
    // The contract quotes these rounded values.
    assert.deepEqual(got.map((w) => Number(w.toFixed(3))), [0.362, 1.117, 1.138, 1.203, 1.18]);
  },
});

Deno.test("classWeights() gives absent classes weight 0 and still sums to K", () => {
  const w = classWeights([10, 0, 30]);
  assert.equal(w[1], 0);
  assert.ok(Math.abs(w.reduce((a, b) => a + b, 0) - 3) < 1e-12);
  assert.ok(w[0] > w[2]);
});

Deno.test("classCounts() rejects a label outside 0..K-1", () => {
  assert.deepEqual(classCounts([0, 2, 2], 3), [1, 0, 2]);
  assert.throws(
    () => classCounts([0, 5], 5),
    (e: Error) =>
      e instanceof RangeError &&
      e.message === "Cannot count classes: label 5 at row 1 is outside 0..4",
  );
});
