import assert from "#assert";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import {
  accuracy,
  argmaxDecision,
  classificationReport,
  confusionMatrix,
  macroF1,
  minExpectedCostDecision,
  totalCost,
  weightedF1,
} from "../../src/metrics/metrics.ts";
import { COST_MATRIX } from "../../src/metrics/task.ts";
import { CASES } from "./_fixtures.ts";

const ignore = await skipUnlessPython("numpy", "sklearn");

function close(actual: number, expected: number, what: string, tol = 1e-9): void {
  assert.ok(
    Math.abs(actual - expected) <= tol,
    `${what}: expected ${expected}, received ${actual} (tolerance ${tol})`,
  );
}

const SKLEARN_METRICS = `
import json, sys, warnings
import numpy as np
from sklearn.metrics import (accuracy_score, classification_report, confusion_matrix,
                             f1_score)
warnings.simplefilter("ignore")
out = []
for d in json.load(sys.stdin):
    y = np.array(d["labels"]); p = np.array(d["preds"]); L = list(range(5))
    cm = confusion_matrix(y, p, labels=L)
    cost = np.array(d["cost"])
    out.append({
      "confusion": cm.tolist(),
      "accuracy": accuracy_score(y, p),
      "macro_f1": f1_score(y, p, labels=L, average="macro"),
      "weighted_f1": f1_score(y, p, labels=L, average="weighted"),
      "cost": float((cm * cost).sum()),
      "report": classification_report(y, p, labels=L, output_dict=True),
    })
print(json.dumps(out))
`;

interface SkMetrics {
  confusion: number[][];
  accuracy: number;
  macro_f1: number;
  weighted_f1: number;
  cost: number;
  report: Record<string, Record<string, number> | number>;
}

Deno.test({
  name: "metrics equal scikit-learn's on shared predictions",
  ignore,
  async fn(t) {
    const inputs = CASES.flatMap((c) => [
      { name: `${c.name}, argmax`, labels: c.labels, preds: argmaxDecision(c.probabilities) },
      {
        name: `${c.name}, min expected cost`,
        labels: c.labels,
        preds: minExpectedCostDecision(c.probabilities, COST_MATRIX),
      },
    ]);
    // One python process for all cases: importing scikit-learn costs seconds.
    const references = await pythonJson<SkMetrics[]>(SKLEARN_METRICS, {
      stdin: JSON.stringify(inputs.map((x) => ({ ...x, cost: COST_MATRIX }))),
    });
    for (const [index, { name, labels, preds }] of inputs.entries()) {
      await t.step(name, () => {
        const sk = references[index];
        const cm = confusionMatrix(labels, preds, 5);
        assert.deepEqual(cm, sk.confusion);
        close(accuracy(cm), sk.accuracy, "accuracy");
        close(macroF1(cm), sk.macro_f1, "macro F1");
        close(weightedF1(cm), sk.weighted_f1, "weighted F1");
        assert.equal(totalCost(cm, COST_MATRIX), sk.cost);
        const report = classificationReport(cm);
        assert.deepEqual(Object.keys(report).sort(), Object.keys(sk.report).sort());
        for (const [key, value] of Object.entries(sk.report)) {
          const mine = report[key];
          if (typeof value === "number") {
            close(mine as number, value, key);
          } else {
            for (const [field, v] of Object.entries(value)) {
              close((mine as unknown as Record<string, number>)[field], v, `${key}.${field}`);
            }
          }
        }
      });
    }
  },
});

Deno.test("edge-case fixtures hold the edge cases they claim", () => {
  assert.ok(!CASES[1].labels.includes(2), "class 2 must be absent from the labels");
  assert.ok(!argmaxDecision(CASES[2].probabilities).includes(3), "class 3 must never be predicted");
});

Deno.test("always-0 on the contract's validation counts gives macro-F1 0.1973 and cost 57,400", () => {
  // Published in DATA_CONTRACT.md, computed there by the existing Python pipeline.
  const counts = [4910, 16, 14, 30, 76];
  const labels = counts.flatMap((n, c) => new Array(n).fill(c));
  const cm = confusionMatrix(labels, new Array(labels.length).fill(0), 5);
  assert.equal(totalCost(cm, COST_MATRIX), 57400);
  assert.equal(macroF1(cm).toFixed(4), "0.1973");
});

Deno.test("minExpectedCostDecision() picks the class with the lowest expected cost", async (t) => {
  const table: { p: number[]; expected: number; why: string }[] = [
    { p: [1, 0, 0, 0, 0], expected: 0, why: "certain class 0" },
    // E[cost | predict 4] = 0.9 * 10 = 9 beats predict 0 = 0.1 * 500 = 50.
    { p: [0.9, 0, 0, 0, 0.1], expected: 4, why: "10% imminent failure" },
    // predict 0: 0.01 * 500 = 5; predict 4: 0.99 * 10 = 9.9.
    { p: [0.99, 0, 0, 0, 0.01], expected: 0, why: "1% imminent failure" },
    { p: [0, 0, 1, 0, 0], expected: 2, why: "certain class 2" },
  ];
  for (const row of table) {
    await t.step(row.why, () => {
      assert.deepEqual(minExpectedCostDecision([row.p], COST_MATRIX), [row.expected]);
    });
  }
});

Deno.test("confusionMatrix() rejects a label outside the classes", () => {
  assert.throws(() => confusionMatrix([0, 5], [0, 1], 5), {
    name: "RangeError",
    message: "Cannot build confusion matrix: labels[1] is 5, expected an integer class in 0..4",
  });
});

Deno.test("confusionMatrix() rejects labels and preds of different lengths", () => {
  assert.throws(() => confusionMatrix([0, 1], [0], 5), {
    name: "RangeError",
    message: "Cannot build confusion matrix: labels and preds differ in length (labels 2, preds 1)",
  });
});

Deno.test("minExpectedCostDecision() rejects rows of the wrong width", () => {
  assert.throws(() => minExpectedCostDecision([[0.5, 0.5]], COST_MATRIX), {
    name: "RangeError",
    message:
      "Cannot choose the minimum-expected-cost class: row 0 has 2 probabilities, expected 5 (one per cost-matrix row)",
  });
});

Deno.test("totalCost() rejects a cost matrix of another size", () => {
  assert.throws(() => totalCost([[1, 0], [0, 1]], COST_MATRIX), {
    name: "RangeError",
    message:
      "Cannot compute total cost: the cost matrix must be 2x2 like the confusion matrix, received 5 rows",
  });
});
