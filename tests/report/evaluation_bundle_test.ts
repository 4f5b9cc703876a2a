import assert from "#assert";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import { COST_MATRIX } from "../../src/metrics/mod.ts";
import {
  buildEvaluationBundle,
  EVALUATION_BUNDLE_FILES,
  summaryToMlflowMetrics,
} from "../../src/report/mod.ts";
import { writeEvaluationBundle } from "../../src/report/write_evaluation_bundle_deno.ts";
import { CASES } from "../metrics/_fixtures.ts";

const ignore = await skipUnlessPython("numpy", "sklearn");

/** Reads the written bundle back with python and recomputes it with scikit-learn. */
const CHECK_BUNDLE = `
import csv, json, os, sys, warnings
import xml.etree.ElementTree as ET
import numpy as np
from sklearn.metrics import (accuracy_score, average_precision_score, classification_report,
                             confusion_matrix, f1_score, roc_auc_score, roc_curve,
                             precision_recall_curve)
warnings.simplefilter("ignore")
d = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(d, "predictions.csv"))))
y = np.array([int(r["label"]) for r in rows]); pred = np.array([int(r["pred"]) for r in rows])
P = np.array([[float(r[f"p{j}"]) for j in range(5)] for r in rows])
L = list(range(5)); C = np.array(json.loads(sys.argv[2]))
def rule(p):
    cm = confusion_matrix(y, p, labels=L)
    return {"accuracy": accuracy_score(y, p), "macro_f1": f1_score(y, p, labels=L, average="macro"),
            "weighted_f1": f1_score(y, p, labels=L, average="weighted"),
            "total_cost": float((cm * C).sum())}
min_cost = (P @ C).argmin(axis=1)
roc = {}; pr = {}
for c in L:
    t = (y == c).astype(int)
    fpr, tpr, _ = roc_curve(t, P[:, c]); prec, rec, _ = precision_recall_curve(t, P[:, c])
    auc = roc_auc_score(t, P[:, c])
    roc[str(c)] = {"x": fpr.tolist(), "y": [None if np.isnan(v) else v for v in tpr.tolist()],
                   "auc": None if np.isnan(auc) else auc}
    pr[str(c)] = {"x": rec.tolist(), "y": prec.tolist(), "auc": average_precision_score(t, P[:, c])}
svgs = {}
for name in os.listdir(d):
    if name.endswith(".svg"):
        svgs[name] = ET.parse(os.path.join(d, name)).getroot().tag
cm_csv = [r for r in csv.reader(open(os.path.join(d, "confusion_matrix.csv")))]
print(json.dumps({
  "argmax_is_pred": bool((P.argmax(axis=1) == pred).all()),
  "vehicle_ids": [int(r["vehicle_id"]) for r in rows],
  "argmax": rule(pred), "min_cost": rule(min_cost), "baseline": rule(np.zeros_like(y)),
  "report": classification_report(y, pred, labels=L, output_dict=True),
  "report_min_cost": classification_report(y, min_cost, labels=L, output_dict=True),
  "confusion": confusion_matrix(y, pred, labels=L).tolist(), "confusion_csv": cm_csv,
  "roc": roc, "pr": pr, "svgs": svgs,
  "probabilities": P.tolist(),
}))
`;

interface Check {
  argmax_is_pred: boolean;
  vehicle_ids: number[];
  argmax: Record<string, number>;
  min_cost: Record<string, number>;
  baseline: Record<string, number>;
  report: Record<string, unknown>;
  report_min_cost: Record<string, unknown>;
  confusion: number[][];
  confusion_csv: string[][];
  roc: Record<string, { x: number[]; y: (number | null)[]; auc: number | null }>;
  pr: Record<string, { x: number[]; y: number[]; auc: number }>;
  svgs: Record<string, string>;
  probabilities: number[][];
}

/** Deep comparison where numbers may differ by 1e-9. */
function assertNear(actual: unknown, expected: unknown, path = "$"): void {
  if (typeof expected === "number" && typeof actual === "number") {
    assert.ok(
      Math.abs(actual - expected) <= 1e-9,
      `${path}: expected ${expected}, received ${actual}`,
    );
  } else if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path}: expected an array`);
    assert.equal((actual as unknown[]).length, expected.length, `${path}: length`);
    expected.forEach((e, i) => assertNear((actual as unknown[])[i], e, `${path}[${i}]`));
  } else if (expected !== null && typeof expected === "object") {
    assert.ok(actual !== null && typeof actual === "object", `${path}: expected an object`);
    for (const [k, v] of Object.entries(expected)) {
      assertNear((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
    }
  } else {
    assert.equal(actual, expected, path);
  }
}

const decodeJson = (files: Map<string, Uint8Array>, name: string) =>
  JSON.parse(new TextDecoder().decode(files.get(name)));

Deno.test({
  name: "buildEvaluationBundle() writes files that scikit-learn reads back to the same numbers",
  ignore,
  async fn(t) {
    const c = CASES[2]; // class 3 never predicted by argmax
    const vehicleIds = c.labels.map((_, i) => 70000 + 3 * i);
    const bundle = buildEvaluationBundle({
      labels: c.labels,
      probabilities: c.probabilities,
      vehicleIds,
      meta: { run: "test <run> & co" },
    });
    const dir = await Deno.makeTempDir({ prefix: "eval_bundle_test_" });
    try {
      const written = await writeEvaluationBundle(dir, bundle.files);
      assert.deepEqual(written.map((p) => p.slice(dir.length + 1)), [...EVALUATION_BUNDLE_FILES]);
      const sk = await pythonJson<Check>(CHECK_BUNDLE, {
        args: [dir, JSON.stringify(COST_MATRIX)],
      });
      const summary = decodeJson(bundle.files, "summary_metrics.json");
      await t.step("predictions.csv round-trips ids, labels, argmax and probabilities", () => {
        assert.ok(sk.argmax_is_pred);
        assert.deepEqual(sk.vehicle_ids, vehicleIds);
        assert.deepEqual(sk.probabilities, c.probabilities);
      });
      await t.step("summary_metrics.json equals scikit-learn for both rules and baseline", () => {
        assertNear(summary, { ...sk.argmax });
        for (const [k, v] of Object.entries(sk.min_cost)) {
          assertNear(summary[`min_cost_${k}`], v, `min_cost_${k}`);
        }
        assertNear(summary.baseline_macro_f1, sk.baseline.macro_f1);
        assertNear(summary.baseline_total_cost, sk.baseline.total_cost);
      });
      await t.step("classification reports equal scikit-learn's output_dict", () => {
        const report = decodeJson(bundle.files, "classification_report.json");
        assert.deepEqual(Object.keys(report), Object.keys(sk.report));
        assertNear(report, sk.report);
        assertNear(
          decodeJson(bundle.files, "classification_report_min_cost.json"),
          sk.report_min_cost,
        );
      });
      await t.step("confusion_matrix.csv has a header row and the sklearn counts", () => {
        assert.deepEqual(sk.confusion_csv[0], ["true\\pred", "0", "1", "2", "3", "4"]);
        assert.deepEqual(
          sk.confusion_csv.slice(1).map((r) => r.slice(1).map(Number)),
          sk.confusion,
        );
      });
      await t.step("roc_curves.json and pr_curves.json equal sklearn's {x, y, auc}", () => {
        assertNear(decodeJson(bundle.files, "roc_curves.json"), sk.roc);
        assertNear(decodeJson(bundle.files, "pr_curves.json"), sk.pr);
      });
      await t.step("every SVG parses as XML with an <svg> root", () => {
        const names = EVALUATION_BUNDLE_FILES.filter((n) => n.endsWith(".svg"));
        assert.deepEqual(
          Object.keys(sk.svgs).sort(),
          [...names].sort(),
        );
        for (const n of names) assert.equal(sk.svgs[n], "{http://www.w3.org/2000/svg}svg", n);
      });
      await t.step("index.html inlines every plot and escapes the run name", () => {
        const html = new TextDecoder().decode(bundle.files.get("index.html"));
        assert.equal(html.match(/<svg /g)?.length, 6);
        assert.ok(html.includes("test &lt;run&gt; &amp; co"));
        assert.ok(!html.includes("test <run>"));
      });
      await t.step("summaryToMlflowMetrics() names eval_macro_f1 and eval_cost", () => {
        const m = summaryToMlflowMetrics(bundle.summary);
        assert.equal(m.eval_macro_f1, summary.macro_f1);
        assert.equal(m.eval_cost, summary.total_cost);
        assert.equal(m.eval_min_cost_cost, summary.min_cost_total_cost);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("buildEvaluationBundle() rejects fewer probability rows than labels", () => {
  assert.throws(() => buildEvaluationBundle({ labels: [0, 1], probabilities: [[1, 0, 0, 0, 0]] }), {
    name: "RangeError",
    message:
      "Cannot build evaluation bundle: expected as many probability rows as labels (at least 1), received 1 rows and 2 labels",
  });
});

Deno.test("buildEvaluationBundle() rejects probabilities whose width does not match the cost matrix", () => {
  assert.throws(() => buildEvaluationBundle({ labels: [0], probabilities: [[0.5, 0.5]] }), {
    name: "RangeError",
    message:
      "Cannot build evaluation bundle: the probabilities have 2 classes but the cost matrix has 5 rows",
  });
});
