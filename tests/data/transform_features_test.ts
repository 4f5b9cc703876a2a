import assert from "#assert";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import { parseFeatureStats, transformFeatures } from "../../src/data/mod.ts";

const ignore = await skipUnlessPython("numpy");
// The real statistics of the Component X training split, as shipped with the toolkit (a copy of
// the data contract's feature_stats.json, byte for byte).
const STATS_PATH = new URL("../../src/data/component_x_feature_stats.json", import.meta.url);
const realStatsText = await Deno.readTextFile(STATS_PATH);

Deno.test({
  name: "transformFeatures() matches numpy on the real feature stats (NaN, negatives, padding)",
  ignore,
  async fn() {
    const stats = parseFeatureStats(realStatsText);
    // numpy draws raw windows with NaN, negative counters and garbage in the padding,
    // and applies the contract's steps in order as an independent reference.
    const ref = await pythonJson<{ x: (number | null)[]; lengths: number[]; y: number[] }>(
      `
import json, sys, numpy as np
stats = json.loads(sys.stdin.read())
order = stats["feature_order"]
rng = np.random.default_rng(7)
n, t, f = 6, 9, len(order)
x = (rng.normal(size=(n, t, f)) * 50).astype(np.float32)
x[rng.random(size=x.shape) < 0.1] = np.nan
lengths = rng.integers(1, t + 1, size=n)
y = x.astype(np.float64).copy()
for j, name in enumerate(order):
    s = stats["per_feature"][name]
    col = y[:, :, j]
    if s["transform"] == "log1p-znorm":
        col = np.log1p(np.clip(col, 0, None))
    col = np.where(np.isnan(col), s["mean"], col)
    y[:, :, j] = (col - s["mean"]) / s["std"]
for i in range(n):
    y[i, : t - lengths[i], :] = 0
print(json.dumps({"x": [None if np.isnan(v) else float(v) for v in x.ravel()],
                  "lengths": lengths.tolist(), "y": y.ravel().tolist()}))
`,
      { stdin: realStatsText },
    );
    const x = Float32Array.from(ref.x, (v) => (v === null ? NaN : v));
    const out = transformFeatures(x, [6, 9, stats.feature_order.length], ref.lengths, stats);
    assert.equal(out, x, "transforms in place");
    let worst = 0;
    ref.y.forEach((want, k) => {
      worst = Math.max(worst, Math.abs(out[k] - want) / Math.max(1, Math.abs(want)));
    });
    assert.ok(worst < 1e-5, `max relative error ${worst}`);
  },
});

Deno.test("transformFeatures() rejects a feature count that differs from feature_order", () => {
  const stats = parseFeatureStats({
    feature_order: ["a", "b"],
    per_feature: {
      a: { transform: "znorm", mean: 0, std: 1 },
      b: { transform: "znorm", mean: 0, std: 1 },
    },
  });
  assert.throws(
    () => transformFeatures(new Float32Array(3), [1, 1, 3], [1], stats),
    (e: Error) =>
      e instanceof RangeError &&
      e.message ===
        "Cannot transform features: the data has 3 features per step but feature_order lists 2; " +
          "pass the feature stats computed for this data",
  );
});

Deno.test("parseFeatureStats() rejects malformed stats with a message naming the field", async (t) => {
  const ok = { transform: "znorm", mean: 0, std: 1 };
  const cases: [string, unknown, string][] = [
    ["not JSON", "{", "Cannot parse feature stats: not valid JSON"],
    ["not an object", [1], "Cannot parse feature stats: expected a JSON object"],
    ["no feature_order", { per_feature: {} }, `"feature_order" must be an array of feature names`],
    ["duplicate name", { feature_order: ["a", "a"], per_feature: { a: ok } }, `lists "a" twice`],
    ["missing entry", { feature_order: ["a", "b"], per_feature: { a: ok } }, `no entry for "b"`],
    [
      "bad transform",
      { feature_order: ["a"], per_feature: { a: { ...ok, transform: "log" } } },
      `per_feature["a"].transform must be one of log1p-znorm, znorm, received "log"`,
    ],
    [
      "zero std",
      { feature_order: ["a"], per_feature: { a: { ...ok, std: 0 } } },
      `per_feature["a"].std must be a finite number > 0, received 0`,
    ],
  ];
  for (const [name, input, message] of cases) {
    await t.step(name, () => {
      assert.throws(
        () => parseFeatureStats(input),
        (e: Error) =>
          (e instanceof TypeError || e instanceof SyntaxError) && e.message.includes(message),
      );
    });
  }
});

Deno.test({
  name: "parseFeatureStats() accepts the real feature_stats.json",
  fn() {
    const stats = parseFeatureStats(realStatsText);
    assert.equal(stats.feature_order.length, 105);
    assert.equal(stats.counters.length, 8);
    for (const c of stats.counters) assert.equal(stats.per_feature[c].transform, "log1p-znorm");
  },
});
