import assert from "#assert";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import { applyTemperature, genericTask, parseTask } from "../../src/metrics/mod.ts";
import {
  buildEvaluationBundle,
  EVALUATION_BUNDLE_FILES,
  summaryToMlflowMetrics,
} from "../../src/report/mod.ts";
import { writeEvaluationBundle } from "../../src/report/write_evaluation_bundle_deno.ts";
import { CASES } from "../metrics/_fixtures.ts";

const ignore = await skipUnlessPython("numpy", "sklearn");

/**
 * Reads the written bundle back with the PyTorch pipeline's readers (np.loadtxt, json.load
 * with its keys) and recomputes it with scikit-learn from predictions.csv.
 */
const CHECK_BUNDLE = `
import csv, json, os, sys, warnings
import xml.etree.ElementTree as ET
import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import (accuracy_score, auc, average_precision_score, classification_report,
                             confusion_matrix, f1_score, log_loss, roc_auc_score, roc_curve,
                             precision_recall_curve)
warnings.simplefilter("ignore")
d = sys.argv[1]; task = json.loads(sys.argv[2]); n_bins = int(sys.argv[3])
names = task["class_names"]; K = len(names); L = list(range(K))
C = None if task.get("cost_matrix") is None else np.array(task["cost_matrix"], dtype=float)
rows = list(csv.DictReader(open(os.path.join(d, "predictions.csv"))))
y = np.array([int(r["label"]) for r in rows]); pred = np.array([int(r["pred"]) for r in rows])
P = np.array([[float(r[f"p{j}"]) for j in L] for r in rows])
has_cal = "cal_p0" in rows[0]
Q = np.array([[float(r[f"cal_p{j}"]) for j in L] for r in rows]) if has_cal else P
def rule(p):
    out = {"accuracy": accuracy_score(y, p), "macro_f1": f1_score(y, p, labels=L, average="macro"),
           "weighted_f1": f1_score(y, p, labels=L, average="weighted")}
    if C is not None:
        out["total_cost"] = float((confusion_matrix(y, p, labels=L) * C).sum())
    return out
majority = int(np.bincount(y, minlength=K).argmax())
min_cost = (Q @ C).argmin(axis=1) if C is not None else None
roc = {}; pr = {}
for c in L:
    t = (y == c).astype(int)
    fpr, tpr, _ = roc_curve(t, P[:, c]); prec, rec, _ = precision_recall_curve(t, P[:, c])
    a = roc_auc_score(t, P[:, c])
    roc[str(c)] = {"x": fpr.tolist(), "y": [None if np.isnan(v) else v for v in tpr.tolist()],
                   "auc": None if np.isnan(a) else a}
    pr[str(c)] = {"x": rec.tolist(), "y": prec.tolist(), "auc": auc(rec, prec),
                  "average_precision": average_precision_score(t, P[:, c])}
def reliability(p):
    prob_true, prob_pred = calibration_curve(p.argmax(axis=1) == y, p.max(axis=1), n_bins=n_bins)
    return {"prob_true": prob_true.tolist(), "prob_pred": prob_pred.tolist(), "n_bins": n_bins}
rel = json.load(open(os.path.join(d, "reliability.json")))
svgs = {}
for name in os.listdir(d):
    if name.endswith(".svg"):
        svgs[name] = ET.parse(os.path.join(d, name)).getroot().tag
cm_file = np.loadtxt(os.path.join(d, "confusion_matrix.csv"), delimiter=",", dtype=int)
out = {
  "argmax_is_pred": bool((P.argmax(axis=1) == pred).all()),
  "vehicle_ids": [int(r["vehicle_id"]) for r in rows],
  "argmax": rule(pred), "baseline": rule(np.full_like(y, majority)), "majority": majority,
  "report": classification_report(y, pred, labels=L, target_names=names, output_dict=True),
  "report_keys": list(classification_report(y, pred, labels=L, target_names=names,
                                            output_dict=True).keys()),
  "confusion": confusion_matrix(y, pred, labels=L).tolist(), "confusion_file": cm_file.tolist(),
  "roc": roc, "pr": pr, "svgs": svgs, "probabilities": P.tolist(),
  "reliability": reliability(P), "reliability_file": {k: rel[k] for k in ("prob_true", "prob_pred", "n_bins")},
  "nll": log_loss(y, P, labels=L), "files": sorted(os.listdir(d)),
}
if has_cal:
    out["calibrated_nll"] = log_loss(y, Q, labels=L)
    out["reliability_calibrated"] = reliability(Q)
    relq = json.load(open(os.path.join(d, "reliability_calibrated.json")))
    out["reliability_calibrated_file"] = {k: relq[k] for k in ("prob_true", "prob_pred", "n_bins")}
if C is not None:
    out["min_cost"] = rule(min_cost)
    out["min_cost_confusion_file"] = np.loadtxt(os.path.join(d, "confusion_matrix_min_cost.csv"),
                                                delimiter=",", dtype=int).tolist()
    out["min_cost_confusion"] = confusion_matrix(y, min_cost, labels=L).tolist()
    out["report_min_cost"] = classification_report(y, min_cost, labels=L, target_names=names,
                                                   output_dict=True)
if K == 2:
    out["roc_auc"] = roc_auc_score(y, P[:, 1]); out["ap"] = average_precision_score(y, P[:, 1])
print(json.dumps(out))
`;

interface Check {
  argmax_is_pred: boolean;
  vehicle_ids: number[];
  argmax: Record<string, number>;
  min_cost?: Record<string, number>;
  baseline: Record<string, number>;
  majority: number;
  report: Record<string, unknown>;
  report_keys: string[];
  report_min_cost?: Record<string, unknown>;
  confusion: number[][];
  confusion_file: number[][];
  min_cost_confusion?: number[][];
  min_cost_confusion_file?: number[][];
  roc: Record<string, unknown>;
  pr: Record<string, unknown>;
  svgs: Record<string, string>;
  probabilities: number[][];
  reliability: Record<string, unknown>;
  reliability_file: Record<string, unknown>;
  reliability_calibrated?: Record<string, unknown>;
  reliability_calibrated_file?: Record<string, unknown>;
  nll: number;
  calibrated_nll?: number;
  files: string[];
  roc_auc?: number;
  ap?: number;
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

async function writeAndCheck(
  bundle: ReturnType<typeof buildEvaluationBundle>,
  nBins = 10,
): Promise<{ sk: Check; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "eval_bundle_test_" });
  const written = await writeEvaluationBundle(dir, bundle.files);
  assert.deepEqual(written.map((p) => p.slice(dir.length + 1)), [...bundle.files.keys()]);
  const task = decodeJson(bundle.files, "task.json");
  const sk = await pythonJson<Check>(CHECK_BUNDLE, {
    args: [dir, JSON.stringify(task), String(nBins)],
  });
  return { sk, dir };
}

Deno.test({
  name:
    "buildEvaluationBundle() on Component X: the pipeline's readers and scikit-learn read back the same numbers",
  ignore,
  async fn(t) {
    const c = CASES[2]; // class 3 never predicted by argmax
    const vehicleIds = c.labels.map((_, i) => 70000 + 3 * i);
    const logits = c.probabilities.map((row) => row.map((p) => Math.log(Math.max(p, 1e-6))));
    const calibrated = applyTemperature(logits, 2.5);
    const bundle = buildEvaluationBundle({
      labels: c.labels,
      probabilities: c.probabilities,
      calibratedProbabilities: calibrated,
      temperature: 2.5,
      vehicleIds,
      meta: { run: "test <run> & co" },
    });
    const { sk, dir } = await writeAndCheck(bundle);
    try {
      const summary = decodeJson(bundle.files, "summary_metrics.json");
      await t.step("every file of the list is written, in its order", () => {
        assert.deepEqual([...bundle.files.keys()], [...EVALUATION_BUNDLE_FILES]);
        assert.deepEqual(sk.files, [...EVALUATION_BUNDLE_FILES].sort());
      });
      await t.step("predictions.csv round-trips ids, labels, argmax and probabilities", () => {
        assert.ok(sk.argmax_is_pred);
        assert.deepEqual(sk.vehicle_ids, vehicleIds);
        assert.deepEqual(sk.probabilities, c.probabilities);
      });
      await t.step("summary_metrics.json equals scikit-learn for both rules and baseline", () => {
        assert.equal(summary.task, "component-x");
        assertNear(summary, { ...sk.argmax });
        for (const [k, v] of Object.entries(sk.min_cost!)) {
          assertNear(summary[`min_cost_${k}`], v, `min_cost_${k}`);
        }
        assert.equal(summary.min_cost_probabilities, "calibrated");
        assert.equal(summary.baseline_class, sk.majority);
        assertNear(summary.baseline_macro_f1, sk.baseline.macro_f1);
        assertNear(summary.baseline_accuracy, sk.baseline.accuracy);
        assertNear(summary.baseline_total_cost, sk.baseline.total_cost);
        assert.equal(
          summary.argmax_beats_baseline,
          sk.argmax.macro_f1 > sk.baseline.macro_f1 &&
            sk.argmax.total_cost < sk.baseline.total_cost,
        );
        assert.equal(
          summary.min_cost_beats_baseline,
          sk.min_cost!.macro_f1 > sk.baseline.macro_f1 &&
            sk.min_cost!.total_cost < sk.baseline.total_cost,
        );
      });
      await t.step(
        "NLL and reliability before and after equal log_loss and calibration_curve",
        () => {
          assertNear(summary.nll, sk.nll, "nll");
          assertNear(summary.calibrated_nll, sk.calibrated_nll, "calibrated_nll");
          assert.equal(summary.temperature, 2.5);
          assertNear(sk.reliability_file, sk.reliability, "reliability.json");
          assertNear(sk.reliability_calibrated_file, sk.reliability_calibrated, "calibrated");
        },
      );
      await t.step("classification_report.json: sklearn's layout keyed by class names", () => {
        const report = decodeJson(bundle.files, "classification_report.json");
        assert.deepEqual(Object.keys(report), sk.report_keys);
        assert.equal(sk.report_keys[0], "more than 48 steps");
        assertNear(report, sk.report);
        assertNear(
          decodeJson(bundle.files, "classification_report_min_cost.json"),
          sk.report_min_cost,
        );
      });
      await t.step("confusion_matrix.csv is a bare matrix np.loadtxt reads", () => {
        assert.deepEqual(sk.confusion_file, sk.confusion);
        assert.deepEqual(sk.min_cost_confusion_file, sk.min_cost_confusion);
        const labeled = new TextDecoder().decode(bundle.files.get("confusion_matrix_labeled.csv"));
        assert.equal(
          labeled.split("\n")[0],
          "true\\pred,more than 48 steps,48 to 24 steps,24 to 12 steps,12 to 6 steps,6 to 0 steps",
        );
      });
      await t.step("roc_curves.json and pr_curves.json: trapezoid PR auc, AP beside", () => {
        assertNear(decodeJson(bundle.files, "roc_curves.json"), sk.roc);
        assertNear(decodeJson(bundle.files, "pr_curves.json"), sk.pr);
      });
      await t.step("every SVG parses as XML with an <svg> root", () => {
        const names = EVALUATION_BUNDLE_FILES.filter((n) => n.endsWith(".svg"));
        assert.deepEqual(Object.keys(sk.svgs).sort(), [...names].sort());
        for (const n of names) assert.equal(sk.svgs[n], "{http://www.w3.org/2000/svg}svg", n);
      });
      await t.step("index.html inlines every plot, colours by the baseline, escapes", () => {
        const html = new TextDecoder().decode(bundle.files.get("index.html"));
        assert.equal(html.match(/<svg /g)?.length, 6);
        assert.ok(html.includes("test &lt;run&gt; &amp; co"));
        assert.ok(!html.includes("test <run>"));
        assert.match(html, /temperature-scaled \(T = 2\.5000\)/);
        const row = html.split("\n").find((l) => l.startsWith("<tr><th>macro F1</th>"))!;
        const classes = [...row.matchAll(/<td( class="(good|bad)")?>/g)].map((m) => m[2] ?? "");
        assert.deepEqual(classes, [
          summary.argmax_beats_baseline ? "good" : "bad",
          summary.min_cost_beats_baseline ? "good" : "bad",
          "",
        ]);
      });
      await t.step("summaryToMlflowMetrics() names eval_macro_f1, eval_cost, calibration", () => {
        const m = summaryToMlflowMetrics(bundle.summary);
        assert.equal(m.eval_macro_f1, summary.macro_f1);
        assert.equal(m.eval_cost, summary.total_cost);
        assert.equal(m.eval_min_cost_cost, summary.min_cost_total_cost);
        assert.equal(m.eval_calibrated_nll, summary.calibrated_nll);
        assert.equal(m.eval_temperature, 2.5);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "buildEvaluationBundle() on a binary task without costs: positive-class ROC/PR, no cost files or keys",
  ignore,
  async fn() {
    const c = CASES[0];
    // Binary labels from the 5-class case: "fails" = classes 3 and 4.
    const labels = c.labels.map((y) => (y >= 3 ? 1 : 0));
    const probabilities = c.probabilities.map((p) => [p[0] + p[1] + p[2], p[3] + p[4]]);
    const task = parseTask({ name: "fails-soon", class_names: ["ok", "fails"] });
    const bundle = buildEvaluationBundle({ labels, probabilities, task, nBins: 15 });
    const { sk, dir } = await writeAndCheck(bundle, 15);
    try {
      const s = bundle.summary;
      assert.deepEqual(
        [...bundle.files.keys()],
        EVALUATION_BUNDLE_FILES.filter((f) =>
          !f.includes("min_cost") && f !== "reliability_calibrated.json"
        ),
      );
      assert.equal(Object.keys(s).filter((k) => k.includes("cost")).length, 0);
      assertNear(s, sk.argmax);
      assert.equal(s.positive_class, 1);
      assertNear(s.roc_auc, sk.roc_auc!, "roc_auc");
      assertNear(s.average_precision, sk.ap!, "average_precision");
      const ap0 = (sk.pr["0"] as { average_precision: number }).average_precision;
      assertNear(s.macro_average_precision, (ap0 + sk.ap!) / 2, "macro_average_precision");
      assertNear(decodeJson(bundle.files, "classification_report.json"), sk.report);
      assert.deepEqual(sk.report_keys.slice(0, 2), ["ok", "fails"]);
      assertNear(sk.reliability_file, sk.reliability, "reliability.json");
      assert.equal(s.calibrated_ece, undefined);
      const html = new TextDecoder().decode(bundle.files.get("index.html"));
      assert.ok(!/cost/i.test(html), "index.html mentions no cost");
      assert.match(html, /ROC curve of the positive class fails/);
      const roc = new TextDecoder().decode(bundle.files.get("roc_curves.svg"));
      assert.ok(roc.includes("1 (fails): AUC") && !roc.includes("0 (ok): AUC"));
      const m = summaryToMlflowMetrics(s);
      assert.equal(m.eval_cost, undefined);
      assert.equal(m.eval_roc_auc, s.roc_auc);
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

Deno.test("buildEvaluationBundle() rejects a task whose class count differs from the probabilities", () => {
  assert.throws(
    () =>
      buildEvaluationBundle({
        labels: [0],
        probabilities: [[0.5, 0.5]],
        task: genericTask(3),
      }),
    {
      name: "RangeError",
      message:
        "Cannot build evaluation bundle: the probabilities have 2 classes but the task 3-class names 3",
    },
  );
  assert.throws(
    () => buildEvaluationBundle({ labels: [0, 1], probabilities: [[0.5, 0.5], [0.2, 0.3, 0.5]] }),
    {
      name: "RangeError",
      message: "Cannot build evaluation bundle: probabilities row 1 has 3 values, not 2",
    },
  );
});
