import assert from "#assert";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import {
  areaUnderCurve,
  averagePrecisionScore,
  oneVsRestPrecisionRecall,
  oneVsRestRoc,
  precisionRecallCurve,
  reliabilityDiagram,
  rocAucScore,
  rocCurve,
} from "../../src/metrics/mod.ts";
import { CASES } from "./_fixtures.ts";

const ignore = await skipUnlessPython("numpy", "sklearn");
const TOL = 1e-9;

/** NaN and +-Infinity travel as strings: JSON has no spelling for them. */
const SKLEARN_CURVES = `
import json, sys, warnings
import numpy as np
from sklearn.metrics import (auc, average_precision_score, precision_recall_curve,
                             roc_auc_score, roc_curve)
from sklearn.calibration import calibration_curve
warnings.simplefilter("ignore")
def enc(a):
    return [x if np.isfinite(x) else str(x) for x in np.asarray(a, dtype=float).tolist()]
out = []
for d in json.load(sys.stdin):
    y = np.array(d["labels"]); P = np.array(d["probabilities"])
    per_class = []
    for c in range(P.shape[1]):
        t = (y == c).astype(int); s = P[:, c]
        fpr, tpr, thr = roc_curve(t, s)
        prec, rec, pthr = precision_recall_curve(t, s)
        per_class.append({
            "fpr": enc(fpr), "tpr": enc(tpr), "roc_thresholds": enc(thr),
            "roc_auc": enc([roc_auc_score(t, s)])[0],
            "precision": enc(prec), "recall": enc(rec), "pr_thresholds": enc(pthr),
            "ap": average_precision_score(t, s), "pr_auc": auc(rec, prec),
        })
    conf = P.max(axis=1); correct = (P.argmax(axis=1) == y)
    n_bins = 10
    prob_true, prob_pred = calibration_curve(correct, conf, n_bins=n_bins, strategy="uniform")
    bins = np.linspace(0.0, 1.0, n_bins + 1)
    counts = np.bincount(np.searchsorted(bins[1:-1], conf), minlength=n_bins)
    w = counts[counts > 0] / counts.sum()
    out.append({"classes": per_class, "prob_true": prob_true.tolist(),
                "prob_pred": prob_pred.tolist(), "counts": counts.tolist(),
                "ece": float(np.sum(w * np.abs(prob_true - prob_pred)))})
print(json.dumps(out))
`;

type Enc = (number | string)[];
interface SkClass {
  fpr: Enc;
  tpr: Enc;
  roc_thresholds: Enc;
  roc_auc: number | string;
  precision: number[];
  recall: number[];
  pr_thresholds: number[];
  ap: number;
  pr_auc: number;
}
interface SkCase {
  classes: SkClass[];
  prob_true: number[];
  prob_pred: number[];
  counts: number[];
  ece: number;
}

const decode = (
  v: number | string,
): number => (typeof v === "string" ? Number(v.replace("inf", "Infinity")) : v);

function assertClose(
  actual: readonly number[],
  expected: readonly (number | string)[],
  what: string,
) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const e = decode(expected[i]);
    const a = actual[i];
    const same = Number.isNaN(e)
      ? Number.isNaN(a)
      : !Number.isFinite(e)
      ? a === e
      : Math.abs(a - e) <= TOL;
    assert.ok(same, `${what}[${i}]: expected ${e}, received ${a}`);
  }
}

let references: SkCase[] | undefined;
async function sklearn(): Promise<SkCase[]> {
  // One python process for all cases: importing scikit-learn costs seconds.
  references ??= await pythonJson<SkCase[]>(SKLEARN_CURVES, {
    stdin: JSON.stringify(CASES.map((c) => ({ labels: c.labels, probabilities: c.probabilities }))),
  });
  return references;
}

Deno.test({
  name: "rocCurve() and rocAucScore() equal scikit-learn's one-vs-rest",
  ignore,
  async fn(t) {
    const refs = await sklearn();
    for (const [i, c] of CASES.entries()) {
      await t.step(c.name, () => {
        for (let k = 0; k < 5; k++) {
          const positive = c.labels.map((y) => y === k);
          const scores = c.probabilities.map((p) => p[k]);
          const roc = rocCurve(positive, scores);
          const sk = refs[i].classes[k];
          assertClose(roc.fpr, sk.fpr, `class ${k} fpr`);
          assertClose(roc.tpr, sk.tpr, `class ${k} tpr`);
          assertClose(roc.thresholds, sk.roc_thresholds, `class ${k} thresholds`);
          assertClose([rocAucScore(positive, scores)], [sk.roc_auc], `class ${k} auc`);
        }
      });
    }
  },
});

Deno.test({
  name: "precisionRecallCurve() and averagePrecisionScore() equal scikit-learn's one-vs-rest",
  ignore,
  async fn(t) {
    const refs = await sklearn();
    for (const [i, c] of CASES.entries()) {
      await t.step(c.name, () => {
        for (let k = 0; k < 5; k++) {
          const positive = c.labels.map((y) => y === k);
          const scores = c.probabilities.map((p) => p[k]);
          const pr = precisionRecallCurve(positive, scores);
          const sk = refs[i].classes[k];
          assertClose(pr.precision, sk.precision, `class ${k} precision`);
          assertClose(pr.recall, sk.recall, `class ${k} recall`);
          assertClose(pr.thresholds, sk.pr_thresholds, `class ${k} thresholds`);
          assertClose([averagePrecisionScore(positive, scores)], [sk.ap], `class ${k} AP`);
        }
      });
    }
  },
});

Deno.test({
  name:
    "oneVsRestRoc() and oneVsRestPrecisionRecall() write {x, y, auc} per class id (PR auc: trapezoid, average_precision beside)",
  ignore,
  async fn() {
    const refs = await sklearn();
    const c = CASES[1]; // class 2 absent: its ROC tpr and AUC are undefined
    const roc = oneVsRestRoc(c.labels, c.probabilities);
    const pr = oneVsRestPrecisionRecall(c.labels, c.probabilities);
    assert.deepEqual(Object.keys(roc), ["0", "1", "2", "3", "4"]);
    assert.equal(roc["2"].auc, null);
    assert.ok(roc["2"].y.every((v) => v === null));
    assert.equal(roc["2"].thresholds[0], null);
    for (let k = 0; k < 5; k++) {
      const sk = refs[1].classes[k];
      assertClose(roc[String(k)].x as number[], sk.fpr, `roc ${k} x`);
      if (k !== 2) assertClose([roc[String(k)].auc!], [sk.roc_auc], `roc ${k} auc`);
      assertClose(pr[String(k)].x as number[], sk.recall, `pr ${k} x`);
      assertClose(pr[String(k)].y as number[], sk.precision, `pr ${k} y`);
      // The pipeline's PR "auc" is the trapezoid auc(recall, precision); AP sits beside it.
      assertClose([pr[String(k)].auc!], [sk.pr_auc], `pr ${k} auc`);
      assertClose([pr[String(k)].average_precision!], [sk.ap], `pr ${k} average_precision`);
    }
  },
});

Deno.test({
  name: "reliabilityDiagram() bins like calibration_curve and its ECE matches numpy",
  ignore,
  async fn(t) {
    const refs = await sklearn();
    for (const [i, c] of CASES.entries()) {
      await t.step(c.name, () => {
        const r = reliabilityDiagram(c.labels, c.probabilities, 10);
        const sk = refs[i];
        assert.deepEqual(r.counts, sk.counts);
        const nonEmpty = (v: (number | null)[]) => v.filter((_, b) => r.counts[b] > 0) as number[];
        assertClose(nonEmpty(r.accuracy), sk.prob_true, "accuracy");
        assertClose(nonEmpty(r.meanConfidence), sk.prob_pred, "mean confidence");
        assertClose([r.ece], [sk.ece], "ece");
      });
    }
  },
});

Deno.test("rocCurve() reproduces scikit-learn's documented example", () => {
  // From the roc_curve docstring: y = [1, 1, 2, 2], scores = [0.1, 0.4, 0.35, 0.8], pos_label=2.
  const roc = rocCurve([false, false, true, true], [0.1, 0.4, 0.35, 0.8]);
  assert.deepEqual(roc.fpr, [0, 0, 0.5, 0.5, 1]);
  assert.deepEqual(roc.tpr, [0, 0.5, 0.5, 1, 1]);
  assert.deepEqual(roc.thresholds, [Infinity, 0.8, 0.4, 0.35, 0.1]);
});

Deno.test("rocCurve() rejects a non-finite score", () => {
  assert.throws(() => rocCurve([true, false], [0.5, NaN]), {
    name: "RangeError",
    message: "Cannot compute ROC curve: scores[1] is NaN, expected a finite number",
  });
});

Deno.test("precisionRecallCurve() rejects labels and scores of different lengths", () => {
  assert.throws(() => precisionRecallCurve([true], [0.5, 0.2]), {
    name: "RangeError",
    message:
      "Cannot compute precision-recall curve: labels and scores differ in length (labels 1, scores 2)",
  });
});

Deno.test("areaUnderCurve() rejects x that goes back and forth", () => {
  assert.throws(() => areaUnderCurve([0, 1, 0.5], [0, 1, 1]), {
    name: "RangeError",
    message: "Cannot compute area under curve: x is neither increasing nor decreasing",
  });
});

Deno.test("reliabilityDiagram() rejects a probability above 1", () => {
  assert.throws(() => reliabilityDiagram([0], [[1.5, 0]]), {
    name: "RangeError",
    message:
      "Cannot compute reliability: row 0 has top probability 1.5, expected a value in [0, 1]",
  });
});
