import assert from "#assert";
import { pythonJson, runPython, skipUnlessPython } from "../_python.ts";
import { main, parseEvaluateArgs } from "../../cli/evaluate.ts";

const ignore = await skipUnlessPython("numpy", "sklearn");

async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../../cli/evaluate.ts", import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test({
  name: "evaluate --predictions writes a bundle whose summary equals scikit-learn's",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "evaluate_cli_test_" });
    try {
      // numpy writes the predictions the way another pipeline would.
      await runPython(
        `
import sys, numpy as np
rng = np.random.default_rng(5)
y = rng.choice(5, size=400, p=[0.8, 0.05, 0.05, 0.05, 0.05])
logits = rng.normal(size=(400, 5)); logits[np.arange(400), y] += 1.5
P = np.exp(logits); P /= P.sum(axis=1, keepdims=True)
with open(sys.argv[1], "w") as f:
    f.write("vehicle_id,label,pred,p0,p1,p2,p3,p4\\n")
    for i in range(400):
        f.write(",".join([str(1000 + i), str(y[i]), str(P[i].argmax())] + [repr(float(v)) for v in P[i]]) + "\\n")
`,
        { args: [`${dir}/in.csv`] },
      );
      const { code, stdout, stderr } = await runCli([
        "--predictions",
        `${dir}/in.csv`,
        "--output-dir",
        `${dir}/bundle`,
      ]);
      assert.equal(code, 0, stderr);
      assert.match(
        stdout,
        /Evaluated 400 windows \(task component-x, 5 classes\): argmax rule macro-F1 0\.\d{4}/,
      );
      const sk = await pythonJson<Record<string, number>>(
        `
import csv, json, sys, numpy as np
from sklearn.metrics import f1_score, accuracy_score, confusion_matrix
rows = list(csv.DictReader(open(sys.argv[1])))
y = np.array([int(r["label"]) for r in rows])
P = np.array([[float(r[f"p{j}"]) for j in range(5)] for r in rows])
C = np.array([[0,7,8,9,10],[200,0,7,8,9],[300,200,0,7,8],[400,300,200,0,7],[500,400,300,200,0]])
p = P.argmax(axis=1); q = (P @ C).argmin(axis=1); L = list(range(5))
print(json.dumps({"macro_f1": f1_score(y, p, labels=L, average="macro"),
  "accuracy": accuracy_score(y, p), "total_cost": float((confusion_matrix(y, p, labels=L) * C).sum()),
  "min_cost_macro_f1": f1_score(y, q, labels=L, average="macro"),
  "min_cost_total_cost": float((confusion_matrix(y, q, labels=L) * C).sum())}))
`,
        { args: [`${dir}/in.csv`] },
      );
      const summary = JSON.parse(await Deno.readTextFile(`${dir}/bundle/summary_metrics.json`));
      for (const [k, v] of Object.entries(sk)) {
        assert.ok(Math.abs(summary[k] - v) <= 1e-9, `${k}: expected ${v}, received ${summary[k]}`);
      }
      const html = await Deno.readTextFile(`${dir}/bundle/index.html`);
      assert.ok(html.includes(`${dir}/in.csv`), "index.html names the input");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "evaluate --task with a custom cost matrix changes the cost figures exactly as numpy recomputes them",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "evaluate_task_test_" });
    try {
      // numpy writes 3-class predictions, with calibrated columns, and a task with its costs.
      await runPython(
        `
import json, sys, numpy as np
d = sys.argv[1]; rng = np.random.default_rng(9); n = 300
y = rng.choice(3, size=n, p=[0.6, 0.3, 0.1])
z = rng.normal(size=(n, 3)); z[np.arange(n), y] += 1.0
P = np.exp(z); P /= P.sum(axis=1, keepdims=True)
Q = np.exp(z / 1.8); Q /= Q.sum(axis=1, keepdims=True)
with open(f"{d}/in.csv", "w") as f:
    f.write("vehicle_id,label,pred,p0,p1,p2,cal_p0,cal_p1,cal_p2\\n")
    for i in range(n):
        f.write(",".join([str(i), str(y[i]), str(P[i].argmax())] + [repr(float(v)) for v in P[i]] +
                         [repr(float(v)) for v in Q[i]]) + "\\n")
json.dump({"name": "three-stage", "class_names": ["healthy", "worn", "failing"],
           "cost_matrix": [[0, 3, 5], [40, 0, 2], [90, 30, 0]]}, open(f"{d}/task.json", "w"))
`,
        { args: [dir] },
      );
      const { code, stdout, stderr } = await runCli([
        ...["--predictions", `${dir}/in.csv`, "--task", `${dir}/task.json`],
        ...["--output-dir", `${dir}/bundle`],
      ]);
      assert.equal(code, 0, stderr);
      assert.match(stdout, /task three-stage, 3 classes/);
      assert.match(stdout, /min-expected-cost rule \(calibrated probabilities\)/);
      const np = await pythonJson<Record<string, number | number[]>>(
        `
import csv, json, sys, numpy as np
d = sys.argv[1]
rows = list(csv.DictReader(open(f"{d}/bundle/predictions.csv")))
y = np.array([int(r["label"]) for r in rows])
P = np.array([[float(r[f"p{j}"]) for j in range(3)] for r in rows])
Q = np.array([[float(r[f"cal_p{j}"]) for j in range(3)] for r in rows])
C = np.array(json.load(open(f"{d}/task.json"))["cost_matrix"], dtype=float)
def cost(p):
    m = np.zeros((3, 3)); np.add.at(m, (y, p), 1); return float((m * C).sum())
q = (Q @ C).argmin(axis=1); b = np.bincount(y, minlength=3).argmax()
print(json.dumps({"total_cost": cost(P.argmax(axis=1)), "min_cost_total_cost": cost(q),
  "baseline_total_cost": cost(np.full_like(y, b)), "pred_min_cost": q.tolist(),
  "file_pred_min_cost": [int(r["pred_min_cost"]) for r in rows]}))
`,
        { args: [dir] },
      );
      const summary = JSON.parse(await Deno.readTextFile(`${dir}/bundle/summary_metrics.json`));
      for (const key of ["total_cost", "min_cost_total_cost", "baseline_total_cost"]) {
        assert.equal(summary[key], np[key], key);
      }
      assert.deepEqual(np.file_pred_min_cost, np.pred_min_cost);
      const report = JSON.parse(
        await Deno.readTextFile(`${dir}/bundle/classification_report.json`),
      );
      assert.deepEqual(Object.keys(report).slice(0, 3), ["healthy", "worn", "failing"]);
      // Without the task file the same predictions get the generic 3-class task: no costs.
      const plain = await runCli(["--predictions", `${dir}/in.csv`, "--output-dir", `${dir}/b2`]);
      assert.equal(plain.code, 0, plain.stderr);
      const s2 = JSON.parse(await Deno.readTextFile(`${dir}/b2/summary_metrics.json`));
      assert.equal(s2.total_cost, undefined);
      assert.doesNotMatch(plain.stdout, /cost/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("evaluate --help documents every flag", async () => {
  const { code, stdout } = await runCli(["--help"]);
  assert.equal(code, 0);
  for (
    const flag of [
      "--checkpoint",
      "--npz",
      "--feature-stats",
      "--predictions",
      "--task",
      "--output-dir",
      "--batch-size",
      "--device",
      "--calibration-bins",
      "--reliability-bins",
      "--num-workers",
      "--mlflow-run-id",
      "--mlflow-tracking-uri",
    ]
  ) assert.ok(stdout.includes(flag), `--help must mention ${flag}`);
});

Deno.test("parseEvaluateArgs() takes the pipeline's defaults, names and abbreviations", () => {
  const d = parseEvaluateArgs(["--predictions", "p.csv"]);
  assert.equal(d.outputDir, "artifacts/evaluations");
  assert.equal(d.nBins, 15);
  const o = parseEvaluateArgs([
    "--pred",
    "p.csv",
    "--calib",
    "7",
    "--num-workers",
    "4",
    "--out",
    "o",
  ]);
  assert.deepEqual([o.predictions, o.nBins, o.outputDir], ["p.csv", 7, "o"]);
  assert.equal(parseEvaluateArgs(["--predictions", "p", "--reliability-bins", "9"]).nBins, 9);
});

Deno.test("parseEvaluateArgs() rejects bad flags naming the flag and allowed values", async (t) => {
  const table: { args: string[]; name: string; message: RegExp }[] = [
    {
      args: ["--bogus"],
      name: "TypeError",
      message: /^Cannot parse evaluate flags: .*--bogus.*Allowed flags: --checkpoint, --npz/,
    },
    {
      args: ["--output-dir", "x", "--predictions", "p.csv", "--device", "tpu"],
      name: "RangeError",
      message: /^Cannot use --device "tpu": expected one of /,
    },
    {
      args: ["--output-dir", "x", "--predictions", "p.csv", "--batch-size", "0"],
      name: "RangeError",
      message: /^Cannot parse --batch-size: expected a positive integer, received "0"$/,
    },
    {
      args: ["--output-dir", "", "--predictions", "p.csv"],
      name: "TypeError",
      message: /^Cannot use --output-dir "": expected a folder \(default artifacts\/evaluations\)$/,
    },
    {
      args: ["--predictions", "p.csv", "--num-workers", "two"],
      name: "RangeError",
      message: /^Cannot parse --num-workers: expected an integer >= 0, received "two"$/,
    },
    {
      args: ["--predictions", "p.csv", "--calibration", "0"],
      name: "RangeError",
      message: /^Cannot parse --calibration-bins: expected a positive integer, received "0"$/,
    },
    {
      args: ["--predictions", "p.csv", "--mlflow", "x"],
      name: "TypeError",
      message:
        /^Cannot parse evaluate flags: ambiguous option: --mlflow could match --mlflow-run-id, --mlflow-experiment, --mlflow-tracking-uri\. Allowed flags/,
    },
    {
      args: ["--output-dir", "x", "--predictions", "p.csv", "--checkpoint", "c"],
      name: "TypeError",
      message:
        /^Cannot evaluate: pass either --checkpoint with --npz, or --predictions, received both$/,
    },
    {
      args: ["--output-dir", "x", "--checkpoint", "c"],
      name: "TypeError",
      message: /^Cannot evaluate: --checkpoint and --npz go together, received only --checkpoint$/,
    },
  ];
  for (const row of table) {
    await t.step(row.args.join(" "), () => {
      assert.throws(() => parseEvaluateArgs(row.args), { name: row.name, message: row.message });
    });
  }
});

Deno.test("evaluate main() reports a missing predictions file with its path and exits 1", async () => {
  const errors: string[] = [];
  const original = console.error;
  console.error = (msg: string) => errors.push(msg);
  try {
    const code = await main(["--predictions", "/nonexistent/p.csv", "--output-dir", "/tmp/x"]);
    assert.equal(code, 1);
  } finally {
    console.error = original;
  }
  assert.match(errors[0], /^error: Cannot read --predictions \/nonexistent\/p\.csv: /);
});

Deno.test("evaluate main() reports a missing checkpoint folder with a hint and exits 1", async () => {
  const errors: string[] = [];
  const original = console.error;
  console.error = (msg: string) => errors.push(msg);
  try {
    const code = await main([
      "--checkpoint",
      "/nonexistent/best",
      "--npz",
      "/nonexistent/val.npz",
      "--output-dir",
      "/tmp/x",
    ]);
    assert.equal(code, 1);
  } finally {
    console.error = original;
  }
  assert.match(
    errors[0],
    /^error: Cannot read checkpoint \/nonexistent\/best: folder not found; pass a checkpoint folder/,
  );
});
