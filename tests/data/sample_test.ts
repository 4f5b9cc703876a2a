import assert from "#assert";
import {
  COMPONENT_X_FEATURE_STATS,
  generateSample,
  SAMPLE_TRAIN_CLASS_COUNTS,
  SAMPLE_VAL_CLASS_COUNTS,
  type SampleSplit,
} from "../../src/data/mod.ts";
import { writeNpz } from "../../src/npz/mod.ts";
import { pythonJson, skipUnlessPython } from "../_python.ts";

const small = generateSample({ trainRows: 300, valRows: 120, seed: 11 });
const F = COMPONENT_X_FEATURE_STATS.feature_order.length;

function bytesOf(split: SampleSplit): Uint8Array[] {
  return Object.values(split).map((a) =>
    new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength)
  );
}

Deno.test("generateSample() is deterministic per seed", () => {
  const again = generateSample({ trainRows: 300, valRows: 120, seed: 11 });
  assert.deepEqual(bytesOf(again.train), bytesOf(small.train));
  assert.deepEqual(bytesOf(again.val), bytesOf(small.val));
  assert.deepEqual(again.featureStats, small.featureStats);
  const other = generateSample({ trainRows: 300, valRows: 120, seed: 12 });
  assert.notDeepEqual(bytesOf(other.train)[0], bytesOf(small.train)[0]);
});

Deno.test("generateSample() follows the contract's keys, dtypes and shapes", async (t) => {
  for (const [name, split, n] of [["train", small.train, 300], ["val", small.val, 120]] as const) {
    await t.step(name, () => {
      assert.deepEqual(Object.keys(split).sort(), [
        "labels",
        "reference_time_step",
        "seq_lengths",
        "sequences",
        "vehicle_ids",
      ]);
      assert.equal(split.sequences.dtype, "float32");
      assert.deepEqual(split.sequences.shape, [n, 128, F]);
      assert.ok(split.sequences.data instanceof Float32Array);
      for (const k of ["labels", "seq_lengths", "vehicle_ids"] as const) {
        assert.equal(split[k].dtype, "int64");
        assert.ok(split[k].data instanceof BigInt64Array);
        assert.deepEqual(split[k].shape, [n]);
      }
      assert.equal(split.reference_time_step.dtype, "float32");
      for (const y of split.labels.data) assert.ok(y >= 0n && y <= 4n);
      for (const t of split.reference_time_step.data) assert.ok(Number.isFinite(t) && t > 0);
    });
  }
  const ids = new Set([...small.train.vehicle_ids.data, ...small.val.vehicle_ids.data]);
  assert.equal(ids.size, 420, "vehicle ids are unique across both splits");
  const short = generateSample({ trainRows: 5, valRows: 5, seed: 1, steps: 16 });
  assert.deepEqual(short.train.sequences.shape, [5, 16, F]);
});

Deno.test("generateSample() pads with zeros before the valid steps only", () => {
  for (const split of [small.train, small.val]) {
    const x = split.sequences.data;
    for (let i = 0; i < split.labels.data.length; i++) {
      const len = Number(split.seq_lengths.data[i]);
      assert.ok(len >= 1 && len <= 128, `length ${len}`);
      const base = i * 128 * F;
      for (let k = 0; k < (128 - len) * F; k++) assert.equal(x[base + k], 0);
      // the last valid readout has non-zero counters (their real medians are large)
      let nonZero = 0;
      for (let f = 0; f < F; f++) if (x[base + 127 * F + f] !== 0) nonZero++;
      assert.ok(nonZero > F / 2, `row ${i}: last step looks like padding`);
    }
  }
});

Deno.test("generateSample() lengths average about 46.5 of 128 like the real data", () => {
  const big = generateSample({ trainRows: 2000, valRows: 10, seed: 3 });
  let sum = 0;
  let min = 128;
  let max = 1;
  for (const l of big.train.seq_lengths.data) {
    sum += Number(l);
    min = Math.min(min, Number(l));
    max = Math.max(max, Number(l));
  }
  const mean = sum / 2000;
  assert.ok(Math.abs(mean - 46.5) < 2.5, `mean valid length ${mean}`);
  assert.ok(min <= 3 && max === 128, `lengths span ${min}..${max}`);
});

Deno.test("generateSample() drops whole histogram families together, never counters", () => {
  const order = COMPONENT_X_FEATURE_STATS.feature_order;
  const counters = new Set(COMPONENT_X_FEATURE_STATS.counters);
  const families = new Map<string, number[]>();
  order.forEach((n, f) => {
    if (counters.has(n)) return;
    const fam = n.split("_")[0];
    families.set(fam, [...(families.get(fam) ?? []), f]);
  });
  assert.equal(families.size, 6);
  const x = small.train.sequences.data;
  let missingGroups = 0;
  for (let s = 0; s < x.length / F; s++) {
    order.forEach((n, f) => {
      if (counters.has(n)) assert.ok(!Number.isNaN(x[s * F + f]), `counter ${n} is NaN`);
    });
    for (const [fam, idx] of families) {
      const nan = idx.filter((f) => Number.isNaN(x[s * F + f])).length;
      assert.ok(nan === 0 || nan === idx.length, `family ${fam} partly NaN at step ${s}`);
      if (nan) missingGroups++;
    }
  }
  assert.ok(missingGroups > 0, "some families go missing");
});

Deno.test("generateSample() counters are non-decreasing between rare resets", () => {
  const big = generateSample({ trainRows: 800, valRows: 10, seed: 5 });
  const x = big.train.sequences.data;
  const cIdx = COMPONENT_X_FEATURE_STATS.counters.map((n) =>
    COMPONENT_X_FEATURE_STATS.feature_order.indexOf(n)
  );
  let series = 0;
  let withReset = 0;
  for (let i = 0; i < 800; i++) {
    const len = Number(big.train.seq_lengths.data[i]);
    for (const f of cIdx) {
      series++;
      let drops = 0;
      for (let j = 128 - len + 1; j < 128; j++) {
        const prev = x[(i * 128 + j - 1) * F + f];
        const cur = x[(i * 128 + j) * F + f];
        if (cur < prev) drops++;
      }
      assert.ok(drops <= 1, `row ${i} counter ${f} decreases ${drops} times`);
      if (drops) withReset++;
    }
  }
  assert.ok(withReset > 0 && withReset / series < 0.02, `${withReset} of ${series} reset`);
});

Deno.test("generateSample() class mix follows the real train and validation counts", () => {
  const s = generateSample({ trainRows: 2000, valRows: 1000, seed: 2 });
  const count = (split: SampleSplit) => {
    const c = [0, 0, 0, 0, 0];
    for (const y of split.labels.data) c[Number(y)]++;
    return c;
  };
  const total = SAMPLE_TRAIN_CLASS_COUNTS.reduce((a, b) => a + b, 0);
  count(s.train).forEach((c, k) => {
    const want = (2000 * SAMPLE_TRAIN_CLASS_COUNTS[k]) / total;
    assert.ok(Math.abs(c - want) <= 20, `train class ${k}: ${c} vs ${want}`);
  });
  const val = count(s.val);
  const vTotal = SAMPLE_VAL_CLASS_COUNTS.reduce((a, b) => a + b, 0);
  assert.ok(val.every((c) => c >= 8), `every val class has >= 8 rows: ${val}`);
  assert.ok(Math.abs(val[0] / 1000 - SAMPLE_VAL_CLASS_COUNTS[0] / vTotal) < 0.05, `${val}`);
  assert.ok(val[4] > val[1], "class 4 is the most common failure class, as in the real data");
});

Deno.test("generateSample() rejects non-positive sizes", () => {
  assert.throws(
    () => generateSample({ trainRows: 0, valRows: 5, seed: 1 }),
    (e: unknown) =>
      e instanceof RangeError &&
      e.message === "Cannot generate sample data: trainRows must be a positive integer, received 0",
  );
});

const ignorePy = await skipUnlessPython("numpy", "sklearn");

Deno.test({
  name:
    "generateSample() featureStats equal numpy's on the written train file and track the real stats",
  ignore: ignorePy,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeFile(`${dir}/train.npz`, writeNpz(small.train));
      await Deno.writeTextFile(`${dir}/stats.json`, JSON.stringify(COMPONENT_X_FEATURE_STATS));
      const ref = await pythonJson<Record<string, [number, number]>>(
        `
import json, sys, numpy as np
d = np.load(sys.argv[1] + "/train.npz")
st = json.load(open(sys.argv[1] + "/stats.json"))
x, L = d["sequences"].astype(np.float64), d["seq_lengths"]
T = x.shape[1]
valid = np.arange(T)[None, :] >= (T - L)[:, None]
out = {}
for j, n in enumerate(st["feature_order"]):
    v = x[:, :, j][valid]
    if n in st["counters"]:
        v = np.log1p(np.clip(v, 0, None))
    v = v[~np.isnan(v)]
    out[n] = [float(v.mean()), float(v.std())]
print(json.dumps(out))
`,
        { args: [dir] },
      );
      for (const [name, [mean, std]] of Object.entries(ref)) {
        const got = small.featureStats.per_feature[name];
        const real = COMPONENT_X_FEATURE_STATS.per_feature[name];
        assert.equal(got.transform, real.transform);
        assert.ok(Math.abs(got.mean - mean) <= 1e-9 * Math.max(1, Math.abs(mean)), name);
        assert.ok(Math.abs(got.std - std) <= 1e-9 * Math.max(1, std), name);
        assert.ok(
          Math.abs(got.mean - real.mean) < real.std,
          `${name}: generated mean ${got.mean} vs real ${real.mean} (std ${real.std})`,
        );
      }
      assert.deepEqual(small.featureStats.feature_order, COMPONENT_X_FEATURE_STATS.feature_order);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "generateSample() is learnable: scikit-learn beats always-0 on val, shuffled labels do not",
  ignore: ignorePy,
  async fn() {
    const s = generateSample({ trainRows: 1024, valRows: 1024, seed: 7 });
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeFile(`${dir}/train.npz`, writeNpz(s.train));
      await Deno.writeFile(`${dir}/val.npz`, writeNpz(s.val));
      await Deno.writeTextFile(`${dir}/stats.json`, JSON.stringify(s.featureStats));
      const r = await pythonJson<{ baseline: number; model: number; shuffled: number }>(
        `
import json, sys, numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
d = sys.argv[1]
st = json.load(open(d + "/stats.json"))
def feats(f):
    z = np.load(f); x = z["sequences"].astype(np.float64); L = z["seq_lengths"]
    for j, n in enumerate(st["feature_order"]):
        p = st["per_feature"][n]; v = x[:, :, j]
        if n in st["counters"]: v = np.log1p(np.clip(v, 0, None))
        x[:, :, j] = (np.where(np.isnan(v), p["mean"], v) - p["mean"]) / p["std"]
    last = x[:, -1, :]
    prev = np.where((L >= 4)[:, None], x[:, -4, :], last)
    return np.concatenate([last, last - prev], 1), z["labels"]
Xt, yt = feats(d + "/train.npz"); Xv, yv = feats(d + "/val.npz")
m = LogisticRegression(max_iter=300, class_weight="balanced").fit(Xt, yt)
sh = LogisticRegression(max_iter=300, class_weight="balanced").fit(
    Xt, np.random.default_rng(0).permutation(yt))
f1 = lambda p: float(f1_score(yv, p, average="macro"))
print(json.dumps({"baseline": f1(np.zeros_like(yv)), "model": f1(m.predict(Xv)),
                  "shuffled": f1(sh.predict(Xv))}))
`,
        { args: [dir] },
      );
      assert.ok(r.model > r.baseline + 0.08, JSON.stringify(r));
      assert.ok(r.shuffled < r.baseline + 0.03, JSON.stringify(r));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
