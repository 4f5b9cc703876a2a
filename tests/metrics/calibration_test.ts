import assert from "#assert";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import {
  applyTemperature,
  fitTemperature,
  negativeLogLikelihood,
  TEMPERATURE_RANGE,
} from "../../src/metrics/mod.ts";

const ignore = await skipUnlessPython("numpy", "scipy", "sklearn");

/**
 * numpy draws logits (over-confident: scaled up, or under-confident: scaled down) and
 * labels; scipy fits the temperature on the same logits with a bounded scalar search on
 * log T, and scikit-learn's log_loss gives the NLL before and after.
 */
const REFERENCE = `
import json, sys
import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.metrics import log_loss
out = []
for seed, n, k, scale in [(1, 400, 5, 3.0), (2, 300, 9, 0.4), (3, 200, 2, 6.0), (4, 50, 3, 1.0)]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=n)
    z = rng.normal(size=(n, k)); z[np.arange(n), y] += 1.2
    z *= scale
    def nll(log_t):
        return -log_softmax(z / np.exp(log_t), axis=1)[np.arange(n), y].mean()
    r = minimize_scalar(nll, bounds=(np.log(0.01), np.log(100)), method="bounded",
                        options={"xatol": 1e-12, "maxiter": 1000})
    t = float(np.exp(r.x))
    out.append({"labels": y.tolist(), "logits": z.tolist(), "temperature": t,
                "nll_before": log_loss(y, softmax(z, axis=1), labels=list(range(k))),
                "nll_after": log_loss(y, softmax(z / t, axis=1), labels=list(range(k))),
                "calibrated": softmax(z / 1.7, axis=1).tolist()})
print(json.dumps(out))
`;

interface Ref {
  labels: number[];
  logits: number[][];
  temperature: number;
  nll_before: number;
  nll_after: number;
  calibrated: number[][];
}

Deno.test({
  name: "fitTemperature() equals scipy's bounded fit on the same logits (1e-4)",
  ignore,
  async fn(t) {
    const refs = await pythonJson<Ref[]>(REFERENCE);
    for (const r of refs) {
      const k = r.logits[0].length;
      await t.step(`${r.labels.length} rows, ${k} classes, T ${r.temperature.toFixed(4)}`, () => {
        const fit = fitTemperature(r.logits, r.labels);
        assert.ok(
          Math.abs(fit.temperature - r.temperature) <= 1e-4,
          `T ${fit.temperature} vs scipy ${r.temperature}`,
        );
        assert.ok(Math.abs(fit.nllBefore - r.nll_before) <= 1e-9, "NLL at T = 1");
        assert.ok(Math.abs(fit.nllAfter - r.nll_after) <= 1e-7, "NLL at the fitted T");
        assert.ok(fit.nllAfter <= fit.nllBefore + 1e-12);
        // A per-row shift (log-probabilities instead of logits) changes nothing.
        const shifted = r.logits.map((row) => {
          const m = Math.max(...row);
          const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
          return row.map((v) => v - lse);
        });
        assert.ok(Math.abs(fitTemperature(shifted, r.labels).temperature - fit.temperature) < 1e-9);
      });
    }
    await t.step("applyTemperature() equals scipy's softmax(z / T)", () => {
      const r = refs[0];
      const mine = applyTemperature(r.logits, 1.7);
      mine.forEach((row, i) =>
        row.forEach((p, c) => assert.ok(Math.abs(p - r.calibrated[i][c]) < 1e-12))
      );
    });
  },
});

Deno.test("fitTemperature() stops at the range's bounds when the NLL keeps falling", () => {
  // Separable: every label has the largest logit, so sharper is always better.
  const sep = fitTemperature([[2, 0], [0, 2], [3, 1]], [0, 1, 0]);
  assert.equal(sep.temperature, TEMPERATURE_RANGE[0]);
  // Anti-separable: every label has the smallest logit, so flatter is always better.
  const anti = fitTemperature([[2, 0], [0, 2]], [1, 0]);
  assert.equal(anti.temperature, TEMPERATURE_RANGE[1]);
});

Deno.test("negativeLogLikelihood() clips zero probabilities like log_loss", () => {
  const both = negativeLogLikelihood([0, 1], [[1, 0], [0.5, 0.5]]);
  assert.ok(Math.abs(both - (2 ** -52 + Math.LN2) / 2) < 1e-15, String(both));
  assert.ok(Math.abs(negativeLogLikelihood([0], [[0, 1]]) - 52 * Math.LN2) < 1e-12);
});

Deno.test("fitTemperature() and applyTemperature() reject bad input naming it", () => {
  assert.throws(() => fitTemperature([[0, 1]], [2]), {
    name: "RangeError",
    message: "Cannot fit the temperature: label 2 at row 0 is outside 0..1",
  });
  assert.throws(() => fitTemperature([[0, NaN]], [0]), {
    name: "RangeError",
    message: "Cannot fit the temperature: logit [0][1] is NaN, expected a finite number",
  });
  assert.throws(() => fitTemperature([], []), {
    name: "RangeError",
    message:
      "Cannot fit the temperature: expected as many rows as labels (at least 1), received 0 rows and 0 labels",
  });
  assert.throws(() => applyTemperature([[0, 1]], 0), {
    name: "RangeError",
    message: "Cannot apply temperature 0: expected a finite number > 0",
  });
});
