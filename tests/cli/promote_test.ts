import assert from "#assert";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import { capture } from "./_capture.ts";
import { main as evaluateMain } from "../../cli/evaluate.ts";
import { main as promoteMain, parsePromoteArgs } from "../../cli/promote.ts";
import { main as runsMain } from "../../cli/runs.ts";

const ignore = await skipUnlessPython("numpy", "mlflow");
const PY_ENV = { MLFLOW_ALLOW_FILE_STORE: "true", GIT_PYTHON_REFRESH: "quiet" };

/** Real mlflow writes the runs: val_macro_f1 histories, params and a best checkpoint. */
const MAKE_RUNS = `
import json, os, sys, warnings
warnings.simplefilter("ignore")
import numpy as np
from mlflow import MlflowClient
root = sys.argv[1]
c = MlflowClient(tracking_uri="file://" + root + "/mlruns")
exp = c.create_experiment("component-x-lstm")
runs = {}
spec = {"r-good": [0.1, 0.3, 0.35], "r-worse": [0.2, 0.25], "r-better": [0.3, 0.42],
        "r-nobundle": [0.5]}
for i, (name, hist) in enumerate(spec.items()):
    r = c.create_run(exp, run_name=name)
    rid = r.info.run_id
    for step, v in enumerate(hist, start=1):
        c.log_metric(rid, "val_macro_f1", v, step=step)
        c.log_metric(rid, "val_acc", 0.9 + 0.01 * step, step=step)
    c.log_param(rid, "hidden_size", str(64 * (i + 1)))
    c.log_param(rid, "lr", "0.001")
    ck = os.path.join(root, "ck", name)
    os.makedirs(ck)
    with open(os.path.join(ck, "weights.bin"), "wb") as f:
        f.write(name.encode() * 3)
    with open(os.path.join(ck, "config.json"), "w") as f:
        json.dump({"run": name}, f)
    c.log_artifacts(rid, ck, artifact_path="checkpoints/best")
    c.set_terminated(rid)
    runs[name] = rid
# Validation predictions, as deno task evaluate would produce them.
rng = np.random.default_rng(3)
y = rng.choice(5, size=300, p=[0.8, 0.05, 0.05, 0.05, 0.05])
logits = rng.normal(size=(300, 5)); logits[np.arange(300), y] += 2.0
P = np.exp(logits); P /= P.sum(axis=1, keepdims=True)
with open(os.path.join(root, "val_sequences.csv"), "w") as f:
    f.write("vehicle_id,label,pred,p0,p1,p2,p3,p4\\n")
    for i in range(300):
        f.write(",".join([str(i), str(y[i]), str(P[i].argmax())] + [repr(float(v)) for v in P[i]]) + "\\n")
print(json.dumps(runs))
`;

/** Real mlflow reads the registry back. */
const READ_REGISTRY = `
import json, sys, warnings
warnings.simplefilter("ignore")
from mlflow import MlflowClient
uri = "file://" + sys.argv[1] + "/mlruns"
c = MlflowClient(tracking_uri=uri, registry_uri=uri)
mv = c.get_model_version_by_alias("component-x-lstm", "champion")
versions = c.search_model_versions("name='component-x-lstm'")
run = c.get_run(mv.run_id)
print(json.dumps({"version": str(mv.version), "run_id": mv.run_id, "tags": mv.tags,
  "source": mv.source, "description": mv.description,
  "versions": sorted(str(v.version) for v in versions),
  "run_tags": {k: v for k, v in run.data.tags.items() if k.startswith("promotion.")},
  "eval_metrics": sorted(k for k in run.data.metrics if k.startswith("eval_")),
  "artifacts": sorted(a.path for a in c.list_artifacts(mv.run_id, "evaluations/val_sequences"))}))
`;

Deno.test({
  name: "promote refuses a worse run and accepts a better one; MlflowClient sees the alias",
  ignore,
  async fn(t) {
    const root = await Deno.makeTempDir({ prefix: "promote_test_" });
    const uri = `${root}/mlruns`;
    const artifacts = `${root}/artifacts`;
    try {
      const runs = await pythonJson<Record<string, string>>(MAKE_RUNS, {
        args: [root],
        env: PY_ENV,
      });
      const promote = (name: string, ...extra: string[]) =>
        capture(() =>
          promoteMain([
            "--run-name",
            name,
            "--mlflow-tracking-uri",
            uri,
            "--artifacts-dir",
            artifacts,
            "--user",
            "tester",
            ...extra,
          ])
        );
      await t.step("evaluate --mlflow-run-id attaches the bundle and logs eval_*", async () => {
        for (const name of ["r-good", "r-worse", "r-better"]) {
          const { code, out } = await capture(() =>
            evaluateMain([
              "--predictions",
              `${root}/val_sequences.csv`,
              "--output-dir",
              `${root}/bundle-${name}`,
              "--mlflow-run-id",
              runs[name],
              "--mlflow-tracking-uri",
              uri,
            ])
          );
          assert.equal(code, 0, out);
          // 18 bundle files and a PNG beside each of the 6 SVG plots.
          assert.match(out, /Uploaded 24 files to evaluations\/val_sequences\/ of run/);
        }
      });
      await t.step("without --inspected and no terminal, promotion is refused", async () => {
        const p = await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            new URL("../../cli/promote.ts", import.meta.url).pathname,
            "--run-name",
            "r-good",
            "--mlflow-tracking-uri",
            uri,
            "--artifacts-dir",
            artifacts,
          ],
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        const out = new TextDecoder().decode(p.stdout);
        assert.equal(p.code, 2, out + new TextDecoder().decode(p.stderr));
        assert.match(
          out,
          /\[FAILED\] plots inspected: not confirmed: open artifact evaluations\/val_sequences\/index\.html of run [0-9a-f]{32} \(the run's Artifacts tab/,
        );
        assert.match(
          out,
          /\[ok\] {5}val macro-F1 beats the champion: no champion yet; val macro-F1 0\.3500/,
        );
      });
      await t.step("the first run with evidence is promoted", async () => {
        const { code, out } = await promote("r-good", "--inspected", "--reason", "first model");
        assert.equal(code, 0, out);
        assert.match(out, /Promoted: component-x-lstm version 1 is now "champion"/);
        assert.equal(await Deno.readTextFile(`${artifacts}/best/weights.bin`), "r-good".repeat(3));
      });
      await t.step("a worse run is refused with the numbers", async () => {
        const { code, out } = await promote("r-worse", "--inspected");
        assert.equal(code, 2, out);
        assert.match(
          out,
          /\[FAILED\] val macro-F1 beats the champion: candidate 0\.2500 <= champion r-good \(version 1\) 0\.3500/,
        );
        assert.match(
          out,
          /\[ok\] {5}val macro-F1 beats the always-majority baseline: candidate 0\.2500 > always-majority 0\.\d{4}/,
        );
        assert.equal(await Deno.readTextFile(`${artifacts}/best/weights.bin`), "r-good".repeat(3));
      });
      await t.step("a run without an evaluation bundle is refused", async () => {
        const { code, out } = await promote("r-nobundle", "--inspected");
        assert.equal(code, 2, out);
        assert.match(
          out,
          /\[FAILED\] evaluation bundle attached to the run: no evaluations\/<name>\/summary_metrics\.json/,
        );
      });
      await t.step("a better run is promoted, keeping the previous checkpoint", async () => {
        const { code, out } = await promote(
          "r-better",
          "--inspected",
          "--reason",
          "higher macro-F1",
        );
        assert.equal(code, 0, out);
        assert.match(out, /version 2 is now "champion"/);
        assert.equal(
          await Deno.readTextFile(`${artifacts}/best/weights.bin`),
          "r-better".repeat(3),
        );
        assert.equal(
          await Deno.readTextFile(`${artifacts}/best.previous/weights.bin`),
          "r-good".repeat(3),
        );
      });
      await t.step(
        "python's MlflowClient sees version 2 as champion with who/when/why",
        async () => {
          const reg = await pythonJson<{
            version: string;
            run_id: string;
            tags: Record<string, string>;
            source: string;
            description: string;
            versions: string[];
            run_tags: Record<string, string>;
            eval_metrics: string[];
            artifacts: string[];
          }>(READ_REGISTRY, { args: [root], env: PY_ENV });
          assert.equal(reg.version, "2");
          assert.equal(reg.run_id, runs["r-better"]);
          assert.deepEqual(reg.versions, ["1", "2"]);
          assert.equal(reg.tags.promoted_by, "tester");
          assert.equal(reg.tags.promotion_reason, "higher macro-F1");
          assert.equal(reg.tags.previous_champion_version, "1");
          assert.match(reg.tags.promoted_at, /^\d{4}-\d\d-\d\dT/);
          assert.equal(reg.description, "higher macro-F1");
          assert.ok(
            reg.source.endsWith(`/${runs["r-better"]}/artifacts/checkpoints/best`),
            reg.source,
          );
          assert.equal(reg.run_tags["promotion.version"], "2");
          assert.ok(
            reg.eval_metrics.includes("eval_macro_f1") && reg.eval_metrics.includes("eval_cost"),
          );
          assert.ok(reg.artifacts.includes("evaluations/val_sequences/index.html"));
        },
      );
      await t.step("runs lists by val macro-F1 and marks the champion", async () => {
        const { code, out } = await capture(() =>
          runsMain(["--mlflow-tracking-uri", uri, "--json"])
        );
        assert.equal(code, 0, out);
        const rows = JSON.parse(out) as {
          runName: string;
          valMacroF1: number;
          promoted: string;
          epochs: number;
        }[];
        assert.deepEqual(rows.map((r) => r.runName), [
          "r-nobundle",
          "r-better",
          "r-good",
          "r-worse",
        ]);
        assert.deepEqual(rows.map((r) => r.promoted), ["", "champion", "yes", ""]);
        assert.deepEqual(rows.map((r) => r.epochs), [1, 2, 3, 2]);
        const table = await capture(() => runsMain(["--mlflow-tracking-uri", uri]));
        assert.match(
          table.out,
          /r-better +FINISHED +2 +0\.4200 +0\.\d{4} +0\.\d{4} +\d+ +champion/,
        );
      });
      await t.step("runs --compare shows differing params and metrics side by side", async () => {
        const { code, out } = await capture(() =>
          runsMain(["--mlflow-tracking-uri", uri, "--compare", "r-good", runs["r-better"]])
        );
        assert.equal(code, 0, out);
        assert.match(out, /Params that differ \(1 of 2\):/);
        assert.match(out, /hidden_size +64 +192/);
        assert.match(out, /best val_macro_f1 +0\.3500 +0\.4200/);
        assert.match(out, /val_macro_f1 +0\.35 +0\.42 +\+0\.07/);
      });
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test("parsePromoteArgs() needs exactly one of --run-id and --run-name", () => {
  assert.throws(() => parsePromoteArgs([]), {
    name: "TypeError",
    message: "Cannot promote: pass exactly one of --run-id or --run-name, received neither",
  });
  assert.throws(() => parsePromoteArgs(["--run-id", "a", "--run-name", "b"]), {
    name: "TypeError",
    message: "Cannot promote: pass exactly one of --run-id or --run-name, received both",
  });
});

Deno.test("parsePromoteArgs() rejects an unknown flag and a reserved alias", () => {
  assert.throws(() => parsePromoteArgs(["--run-id", "a", "--force"]), {
    name: "TypeError",
    message: /^Cannot parse promote flags: .*--force.*Allowed flags: --run-id, --run-name/,
  });
  assert.throws(() => parsePromoteArgs(["--run-id", "a", "--alias", "latest"]), {
    name: "RangeError",
    message:
      'Cannot parse --alias: expected letters, digits, "_" or "-" (not "latest" or v<number>), received "latest"',
  });
});

Deno.test({
  name: "promote --help documents every flag",
  async fn() {
    const { code, out } = await capture(() => promoteMain(["--help"]));
    assert.equal(code, 0);
    for (
      const f of [
        "--run-id",
        "--run-name",
        "--experiment",
        "--inspected",
        "--reason",
        "--user",
        "--model",
        "--alias",
        "--artifacts-dir",
        "--checkpoint-artifact",
        "--mlflow-tracking-uri",
      ]
    ) assert.ok(out.includes(f), f);
  },
});
