/**
 * The PyTorch pipeline's champion in the registry: `deno task import` evaluates a `best.pt`
 * torch saved and registers it (read back with MLflow's own client); a run logged in the
 * pipeline's layout (bundle without index.html or baseline_macro_f1, `best.pt` at the root,
 * steps from 0; written by MLflow's own client) is then promoted over it.
 */
import assert from "#assert";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import { runPipeline, skipUnlessTorch } from "../_torch.ts";
import { capture } from "./_capture.ts";
import { main as importMain, parseImportArgs } from "../../cli/import.ts";
import { main as promoteMain } from "../../cli/promote.ts";
import { majorityBaseline } from "../../src/review/promotion.ts";

const ignore = (await skipUnlessPython("numpy", "mlflow")) ||
  (await skipUnlessTorch("importing the pipeline's champion"));
const PY_ENV = { MLFLOW_ALLOW_FILE_STORE: "true", GIT_PYTHON_REFRESH: "quiet" };

const READ = `
import json, sys, warnings
warnings.simplefilter("ignore")
from mlflow import MlflowClient
uri = "file://" + sys.argv[1] + "/mlruns"
c = MlflowClient(tracking_uri=uri, registry_uri=uri)
mv = c.get_model_version_by_alias("component-x-lstm", "champion")
run = c.get_run(mv.run_id)
print(json.dumps({"version": str(mv.version), "run_id": mv.run_id, "source": mv.source,
  "tags": mv.tags, "params": run.data.params, "metrics": run.data.metrics,
  "run_name": run.info.run_name,
  "history": [[m.step, m.value] for m in c.get_metric_history(mv.run_id, "val_macro_f1")],
  "root": sorted(a.path for a in c.list_artifacts(mv.run_id)),
  "bundle": sorted(a.path for a in c.list_artifacts(mv.run_id, "evaluations/val"))}))
`;

/** A run as the pipeline logged it, with MLflow's own client. */
const PIPELINE_RUN = `
import json, os, sys, warnings
warnings.simplefilter("ignore")
import numpy as np
from mlflow import MlflowClient
root, pt = sys.argv[1], sys.argv[2]
c = MlflowClient(tracking_uri="file://" + root + "/mlruns")
exp = c.get_experiment_by_name("component-x-lstm").experiment_id
rid = c.create_run(exp, run_name="pipeline-run").info.run_id
for step, v in enumerate([0.3, 0.95]):
    c.log_metric(rid, "val_macro_f1", v, step=step)
c.log_param(rid, "bidirectional", "True")
b = os.path.join(root, "pipeline_bundle"); os.makedirs(b)
json.dump({"accuracy": 0.97, "macro_f1": 0.95, "weighted_f1": 0.96}, open(b + "/summary_metrics.json", "w"))
json.dump({"class_0": {"precision": 1.0, "recall": 1.0, "f1-score": 1.0, "support": 20}}, open(b + "/classification_report.json", "w"))
np.savetxt(b + "/confusion_matrix.csv", np.array([[18, 2, 0, 0, 0], [1, 3, 0, 0, 0], [0, 0, 2, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 3]]), fmt="%d", delimiter=",")
for name in ["roc_curves", "pr_curves", "reliability"]:
    json.dump({}, open(b + "/" + name + ".json", "w"))
open(b + "/confusion_matrix.png", "wb").write(b"\\x89PNG")
c.log_artifacts(rid, b, artifact_path="evaluations/val_sequences")
c.log_artifact(rid, pt)
c.set_terminated(rid)
print(json.dumps(rid))
`;

Deno.test("parseImportArgs() needs --checkpoint and --npz and takes argparse prefixes", () => {
  assert.throws(() => parseImportArgs(["--npz", "v.npz"]), {
    name: "TypeError",
    message: "Cannot import: --checkpoint is required (see --help)",
  });
  const spec = parseImportArgs(["--check", "b.pt", "--npz", "v.npz", "--alias", "prod"], {
    USER: "ana",
  })!;
  assert.deepEqual(
    [spec.checkpoint, spec.registry, spec.user, spec.nBins, spec.experiment],
    ["b.pt", { model: "component-x-lstm", alias: "prod" }, "ana", 15, "component-x-lstm"],
  );
  assert.equal(parseImportArgs(["-h"]), null);
});

Deno.test("majorityBaseline() reads the pipeline's bare matrix and a labelled one", () => {
  // 20 of class 0 in 30: F1 of class 0 = 40 / 50, macro over 3 classes; accuracy 20 / 30.
  const bare = "18,2,0\n1,3,0\n0,0,6\n";
  assert.ok(Math.abs(majorityBaseline(bare, "val_macro_f1")! - (2 * 20) / (30 + 20) / 3) < 1e-12);
  assert.ok(Math.abs(majorityBaseline(bare, "val_acc")! - 20 / 30) < 1e-12);
  const costs = [[0, 1, 1], [5, 0, 1], [9, 1, 0]];
  assert.equal(majorityBaseline(bare, "val_cost", costs), 4 * 5 + 6 * 9);
  assert.equal(majorityBaseline(bare, "val_cost"), null, "no cost matrix, no cost baseline");
  const labelled = "true\\pred,0,1,2\n0,18,2,0\n1,1,3,0\n2,0,0,6\n";
  assert.equal(majorityBaseline(labelled, "val_macro_f1"), majorityBaseline(bare, "val_macro_f1"));
  // The majority is not always class 0.
  assert.ok(Math.abs(majorityBaseline("1,0\n0,3\n", "val_acc")! - 0.75) < 1e-12);
  assert.equal(majorityBaseline("a,b\n1,2\n", "val_acc"), null);
});

Deno.test({
  name: "import registers the pipeline's best.pt as champion; a pipeline-layout run beats it",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "import_test_" });
    try {
      const batches = [[...Array(16).keys()], [...Array(16).keys()].map((i) => i + 16)];
      await runPipeline("run", [`${dir}/pt`], {
        n_train: 32,
        n_val: 20,
        steps: 8,
        input_size: 4,
        hidden_size: 5,
        num_layers: 1,
        bidirectional: true,
        pooling: "mean",
        batch_size: 16,
        lr: 0.01,
        step_size: 1,
        gamma: 0.5,
        epochs: 1,
        planned_epochs: 2,
        orders: [batches, batches],
      });
      const uri = `${dir}/mlruns`;
      const args = [
        "--checkpoint",
        `${dir}/pt/best.pt`,
        "--npz",
        `${dir}/pt/val.npz`,
        "--output-dir",
        `${dir}/eval`,
        "--device",
        "cpu",
        "--mlflow-tracking-uri",
        uri,
      ];
      const first = await capture(() => importMain(args));
      assert.equal(first.code, 0, first.out);
      assert.match(first.out, /Registered component-x-lstm version 1 as "champion"/);
      const reg = await pythonJson<{
        version: string;
        source: string;
        run_name: string;
        params: Record<string, string>;
        metrics: Record<string, number>;
        history: [number, number][];
        root: string[];
        bundle: string[];
        tags: Record<string, string>;
      }>(READ, { args: [dir], env: PY_ENV });
      assert.equal(reg.version, "1");
      assert.equal(reg.run_name, "imported-best");
      assert.match(reg.source, /\/best\.pt$/);
      assert.deepEqual(reg.root, ["best.pt", "evaluations", "feature_stats.json"]);
      assert.ok(reg.bundle.includes("evaluations/val/summary_metrics.json"));
      // The pipeline's args as its params: Python's str(), unset ones left out.
      assert.equal(reg.params.hidden_size, "5");
      assert.equal(reg.params.bidirectional, "True");
      assert.equal(reg.params.lr, "0.01");
      assert.equal(reg.params.pooling, "mean");
      assert.ok(!("grad_clip" in reg.params) && !("mlflow_tracking_uri" in reg.params));
      // val_macro_f1 is this evaluation's, at the checkpoint's (0-based) epoch.
      const summary = JSON.parse(await Deno.readTextFile(`${dir}/eval/summary_metrics.json`));
      assert.deepEqual(reg.history, [[0, summary.macro_f1]]);
      assert.equal(reg.tags.promotion_reason, "imported from the PyTorch pipeline");

      // A second import finds the alias held: recorded, not registered, exit 2.
      const again = await capture(() => importMain([...args, "--run-name", "again"]));
      assert.equal(again.code, 2, again.out);
      assert.match(
        again.out,
        /Not registered: "champion" of component-x-lstm is held by version 1/,
      );

      // A run in the pipeline's own layout is promoted over the imported champion.
      const rid = await pythonJson<string>(PIPELINE_RUN, {
        args: [dir, `${dir}/pt/best.pt`],
        env: PY_ENV,
      });
      const promoted = await capture(() =>
        promoteMain([
          "--run-id",
          rid,
          "--inspected",
          "--mlflow-tracking-uri",
          uri,
          "--artifacts-dir",
          `${dir}/art`,
        ])
      );
      assert.equal(promoted.code, 0, promoted.out);
      // Baseline from the bare confusion matrix: 20 of 30 are class 0 (the majority) -> 0.8 / 5.
      assert.match(promoted.out, /always-majority 0\.1600 on the same validation labels/);
      assert.match(promoted.out, /beats|> champion imported-best/);
      assert.match(promoted.out, /evaluations\/val_sequences holds 6 required files/);
      assert.match(promoted.out, /artifact best\.pt of run [0-9a-f]{32} installed/);
      assert.ok((await Deno.stat(`${dir}/art/best/best.pt`)).size > 1000);
      const after = await pythonJson<{ version: string; run_id: string }>(READ, {
        args: [dir],
        env: PY_ENV,
      });
      assert.deepEqual([after.version, after.run_id], ["2", rid]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
