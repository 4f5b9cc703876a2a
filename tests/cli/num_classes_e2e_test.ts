/**
 * End to end through the CLI for 2, 5 (Component X) and 9 classes: numpy writes the data,
 * `cli/train.ts` trains on wasm and logs to an mlruns folder, `cli/evaluate.ts` writes the
 * bundle of the best checkpoint and attaches it, `cli/promote.ts` promotes. scikit-learn,
 * scipy and MLflow's own client read everything back.
 */
import assert from "#assert";
import { pythonJson, runPython, skipUnlessPython } from "../_python.ts";

const ignore = await skipUnlessPython("numpy", "sklearn", "scipy", "mlflow");
const ROOT = new URL("../../", import.meta.url).pathname;
const PY_ENV = { MLFLOW_ALLOW_FILE_STORE: "true", GIT_PYTHON_REFRESH: "quiet" };

async function cli(command: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}cli/${command}.ts`, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * numpy writes K-class train/val files whose valid steps carry the class in feature 0 (and
 * its parity in feature 1) under unit noise, class 0 the majority, and identity feature
 * stats. Not separable, so the fitted temperature lies inside its range.
 */
const WRITE_DATA = `
import json, sys, numpy as np
d, k, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(seed)
p = np.array([3.0] + [1.0] * (k - 1)); p /= p.sum()
for name, n in [("train", 240), ("val", 120)]:
    y = rng.choice(k, size=n, p=p); L = rng.integers(2, 9, size=n)
    x = rng.normal(size=(n, 8, 4)).astype(np.float32)
    x[:, :, 0] += y[:, None] * 1.5; x[:, :, 1] += (y[:, None] % 2)
    for i in range(n): x[i, : 8 - L[i]] = 0
    np.savez_compressed(f"{d}/{name}.npz", sequences=x, labels=y.astype(np.int64),
                        seq_lengths=L.astype(np.int64), vehicle_ids=np.arange(n) + 1000)
names = [f"f{i}" for i in range(4)]
json.dump({"feature_order": names, "counters": [], "histograms": names,
           "per_feature": {f: {"transform": "znorm", "mean": 0.0, "std": 1.0} for f in names}},
          open(f"{d}/stats.json", "w"))
`;

/**
 * Reads the bundle with the pipeline's readers and recomputes it with scikit-learn; fits the
 * temperature with scipy on the same log-probabilities; reads the MLflow run back.
 */
const CHECK = `
import csv, json, os, sys, warnings
import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax
from sklearn.metrics import (accuracy_score, classification_report, confusion_matrix, f1_score,
                             log_loss, roc_auc_score, average_precision_score)
from mlflow import MlflowClient
warnings.simplefilter("ignore")
d, run_id = sys.argv[1], sys.argv[2]
task = json.load(open(f"{d}/bundle/task.json")); names = task["class_names"]
K = len(names); L = list(range(K))
C = None if task["cost_matrix"] is None else np.array(task["cost_matrix"], dtype=float)
rows = list(csv.DictReader(open(f"{d}/bundle/predictions.csv")))
y = np.array([int(r["label"]) for r in rows]); pred = np.array([int(r["pred"]) for r in rows])
P = np.array([[float(r[f"p{j}"]) for j in L] for r in rows])
Q = np.array([[float(r[f"cal_p{j}"]) for j in L] for r in rows])
z = np.log(P)
def nll(log_t):
    return -log_softmax(z / np.exp(log_t), axis=1)[np.arange(len(y)), y].mean()
t = float(np.exp(minimize_scalar(nll, bounds=(np.log(0.01), np.log(100)), method="bounded",
                                 options={"xatol": 1e-12, "maxiter": 1000}).x))
out = {
  "K": K, "labels_match": y.tolist() == np.load(f"{d}/val.npz")["labels"].tolist(),
  "macro_f1": f1_score(y, pred, labels=L, average="macro"), "accuracy": accuracy_score(y, pred),
  "weighted_f1": f1_score(y, pred, labels=L, average="weighted"),
  "confusion": confusion_matrix(y, pred, labels=L).tolist(),
  "confusion_file": np.loadtxt(f"{d}/bundle/confusion_matrix.csv", delimiter=",",
                               dtype=int).reshape(K, K).tolist(),
  "report": classification_report(y, pred, labels=L, target_names=names, output_dict=True),
  "nll": log_loss(y, P, labels=L), "calibrated_nll": log_loss(y, Q, labels=L),
  "scipy_temperature": t,
  "baseline_macro_f1": f1_score(y, np.zeros_like(y), labels=L, average="macro"),
}
if C is not None:
    q = (Q @ C).argmin(axis=1)
    out["total_cost"] = float((confusion_matrix(y, pred, labels=L) * C).sum())
    out["min_cost_total_cost"] = float((confusion_matrix(y, q, labels=L) * C).sum())
    out["min_cost_matches"] = q.tolist() == [int(r["pred_min_cost"]) for r in rows]
if K == 2:
    out["roc_auc"] = roc_auc_score(y, P[:, 1]); out["average_precision"] = average_precision_score(y, P[:, 1])
c = MlflowClient(tracking_uri="file://" + d + "/mlruns")
run = c.get_run(run_id)
out["params"] = {k: run.data.params.get(k) for k in
                 ("num_classes", "class_names", "cost_matrix", "promotion_metric", "task_name")}
out["metrics"] = sorted(run.data.metrics)
out["artifacts"] = sorted(a.path for a in c.list_artifacts(run_id))
os.makedirs(d + "/dl", exist_ok=True)
out["task_artifact"] = json.load(open(c.download_artifacts(run_id, "task.json", d + "/dl")))
print(json.dumps(out))
`;

interface Check {
  K: number;
  labels_match: boolean;
  macro_f1: number;
  accuracy: number;
  weighted_f1: number;
  confusion: number[][];
  confusion_file: number[][];
  report: Record<string, unknown>;
  nll: number;
  calibrated_nll: number;
  scipy_temperature: number;
  baseline_macro_f1: number;
  total_cost?: number;
  min_cost_total_cost?: number;
  min_cost_matches?: boolean;
  roc_auc?: number;
  average_precision?: number;
  params: Record<string, string | null>;
  metrics: string[];
  artifacts: string[];
  task_artifact: Record<string, unknown>;
}

const near = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

function assertReport(actual: Record<string, unknown>, expected: Record<string, unknown>): void {
  assert.deepEqual(Object.keys(actual), Object.keys(expected));
  for (const [key, v] of Object.entries(expected)) {
    if (typeof v === "number") near(actual[key] as number, v, 1e-9, key);
    else {
      for (const [m, x] of Object.entries(v as Record<string, number>)) {
        near((actual[key] as Record<string, number>)[m], x, 1e-9, `${key}.${m}`);
      }
    }
  }
}

const CASES = [
  {
    name: "2 classes (task file: costs, promoted on val_cost)",
    k: 2,
    task: {
      name: "fails-soon",
      class_names: ["ok", "fails"],
      cost_matrix: [[0, 1], [20, 0]],
      promotion_metric: "val_cost",
    },
  },
  { name: "5 classes (Component X's built-in task)", k: 5, task: null },
  { name: "9 classes (K from the labels, no costs)", k: 9, task: null },
] as const;

for (const c of CASES) {
  Deno.test({
    name: `train, evaluate and promote through the CLI on ${c.name}`,
    ignore,
    async fn(t) {
      const dir = await Deno.makeTempDir({ prefix: `k${c.k}_e2e_` });
      try {
        await runPython(WRITE_DATA, { args: [dir, String(c.k), String(c.k)] });
        const taskArgs = c.task ? ["--task", `${dir}/task.json`] : [];
        if (c.task) await Deno.writeTextFile(`${dir}/task.json`, JSON.stringify(c.task));
        const uri = `${dir}/mlruns`;
        const trained = await cli("train", [
          ...["--train-npz", `${dir}/train.npz`, "--val-npz", `${dir}/val.npz`],
          ...["--feature-stats", `${dir}/stats.json`, "--output-dir", `${dir}/out`],
          ...["--epochs", "5", "--batch-size", "32", "--hidden-size", "8", "--num-layers", "1"],
          ...["--lr", "0.02", "--device", "cpu", "--log-interval", "100", ...taskArgs],
          ...["--mlflow", "--mlflow-tracking-uri", uri, "--mlflow-experiment", `e2e-k${c.k}`],
        ]);
        assert.equal(trained.code, 0, trained.stdout + trained.stderr);
        const state = JSON.parse(await Deno.readTextFile(`${dir}/out/best/state.json`));
        const runId = state.run.runId as string;
        const withCost = c.k === 5 || c.task !== null;
        await t.step("the task and K reach the log, metrics.csv and the checkpoint", async () => {
          const taskName = c.task?.name ?? (c.k === 5 ? "component-x" : `${c.k}-class`);
          assert.match(trained.stdout, new RegExp(`task: ${taskName}, ${c.k} classes`));
          assert.equal(state.modelConfig.numClasses, c.k);
          assert.equal(state.task.class_names.length, c.k);
          assert.ok(state.temperature > 0.01 && state.temperature < 100);
          assert.equal(state.best.metric, c.task?.promotion_metric ?? "val_macro_f1");
          const header = (await Deno.readTextFile(`${dir}/out/metrics.csv`)).split("\n")[0];
          assert.equal(
            header,
            "epoch,train_loss,train_acc,val_loss,val_acc,val_macro_f1,lr," +
              (withCost ? "val_cost," : "") + "epoch_seconds",
          );
          if (!withCost) {
            assert.doesNotMatch(trained.stdout, /val_cost|Component X|component-x|Scania/i);
          }
        });
        const evaluated = await cli("evaluate", [
          ...["--checkpoint", `${dir}/out/best`, "--npz", `${dir}/val.npz`],
          ...["--output-dir", `${dir}/bundle`, "--device", "cpu"],
          ...["--mlflow-run-id", runId, "--mlflow-tracking-uri", uri],
        ]);
        assert.equal(evaluated.code, 0, evaluated.stdout + evaluated.stderr);
        const summary = JSON.parse(await Deno.readTextFile(`${dir}/bundle/summary_metrics.json`));
        const sk = await pythonJson<Check>(CHECK, { args: [dir, runId], env: PY_ENV });
        await t.step("the bundle equals scikit-learn, read with the pipeline's readers", () => {
          assert.ok(sk.labels_match);
          assert.equal(summary.num_classes, c.k);
          for (const key of ["macro_f1", "accuracy", "weighted_f1", "nll", "calibrated_nll"]) {
            near(summary[key], sk[key as keyof Check] as number, 1e-9, key);
          }
          assert.deepEqual(sk.confusion_file, sk.confusion);
          const report = JSON.parse(
            Deno.readTextFileSync(`${dir}/bundle/classification_report.json`),
          );
          assertReport(report, sk.report);
          near(summary.baseline_macro_f1, sk.baseline_macro_f1, 1e-9, "baseline");
          if (withCost) {
            near(summary.total_cost, sk.total_cost!, 0, "total_cost");
            near(summary.min_cost_total_cost, sk.min_cost_total_cost!, 0, "min_cost_total_cost");
            assert.ok(sk.min_cost_matches, "pred_min_cost = argmin of calibrated P @ C");
            assert.equal(summary.min_cost_probabilities, "calibrated");
          } else {
            assert.equal(Object.keys(summary).filter((k) => k.includes("cost")).length, 0);
            assert.doesNotMatch(evaluated.stdout, /cost/);
          }
          if (c.k === 2) {
            near(summary.roc_auc, sk.roc_auc!, 1e-9, "roc_auc");
            near(summary.average_precision, sk.average_precision!, 1e-9, "average_precision");
          }
        });
        await t.step("the checkpoint's temperature is scipy's fit on the same logits", () => {
          // evaluate recomputes the val logits (float32, another batch size): 1e-4 relative.
          console.log(
            `  T ${summary.temperature} (scipy ${sk.scipy_temperature}); ECE ${summary.ece} -> ` +
              `${summary.calibrated_ece}; NLL ${summary.nll} -> ${summary.calibrated_nll}`,
          );
          assert.equal(summary.temperature, state.temperature);
          near(summary.temperature, sk.scipy_temperature, 1e-4 * sk.scipy_temperature, "T");
          assert.ok(summary.calibrated_nll <= summary.nll + 1e-6, "calibration lowers the NLL");
        });
        await t.step("MLflow holds the task as params and task.json", () => {
          assert.equal(sk.params.num_classes, String(c.k));
          assert.equal(JSON.parse(sk.params.class_names!).length, c.k);
          assert.equal(sk.params.cost_matrix === "none", !withCost);
          assert.equal(sk.params.promotion_metric, c.task?.promotion_metric ?? "val_macro_f1");
          assert.ok(sk.artifacts.includes("task.json") && sk.artifacts.includes("evaluations"));
          assert.deepEqual(sk.task_artifact, state.task);
          assert.equal(sk.metrics.includes("val_cost"), withCost);
          assert.ok(sk.metrics.includes("eval_calibrated_nll"));
        });
        await t.step(
          "promote judges the task's metric against the always-majority baseline",
          async () => {
            const promoted = await cli("promote", [
              ...["--run-id", runId, "--inspected", "--mlflow-tracking-uri", uri],
              ...["--artifacts-dir", `${dir}/promoted`, "--model", `e2e-k${c.k}`],
            ]);
            const label = c.task?.promotion_metric === "val_cost" ? "val cost" : "val macro-F1";
            assert.match(
              promoted.stdout,
              new RegExp(`\\[ok\\] {5}${label} beats the always-majority baseline`),
            );
            assert.equal(promoted.code, 0, promoted.stdout + promoted.stderr);
            const installed = JSON.parse(
              await Deno.readTextFile(`${dir}/promoted/best/state.json`),
            );
            assert.deepEqual(installed.task, state.task);
          },
        );
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

Deno.test({
  name: "train refuses a label outside 0..K-1 naming the file, the row and where K came from",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "k_outside_" });
    try {
      await runPython(WRITE_DATA, { args: [dir, "9", "3"] });
      await Deno.writeTextFile(`${dir}/task.json`, JSON.stringify({ class_names: ["a", "b"] }));
      const common = [
        ...["--train-npz", `${dir}/train.npz`, "--val-npz", `${dir}/val.npz`],
        ...["--feature-stats", `${dir}/stats.json`, "--output-dir", `${dir}/out`],
        ...["--device", "cpu"],
      ];
      const flag = await cli("train", [...common, "--num-classes", "3"]);
      assert.equal(flag.code, 1);
      assert.match(
        flag.stderr,
        new RegExp(
          `^error: Cannot load sequences from --train-npz ${dir}/train\\.npz: "labels"\\[\\d+\\] = ` +
            "[3-8] is outside 0\\.\\.2 \\(3 classes from --num-classes 3\\)",
        ),
      );
      const task = await cli("train", [...common, "--task", `${dir}/task.json`]);
      assert.equal(task.code, 1);
      assert.match(task.stderr, /is outside 0\.\.1 \(2 classes from --task .*task\.json\)/);
      const both = await cli("train", [
        ...common,
        ...["--task", `${dir}/task.json`, "--num-classes", "3"],
      ]);
      assert.equal(both.code, 1);
      assert.match(both.stderr, /Cannot use --num-classes 3 with --task .*: the task names 2/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
