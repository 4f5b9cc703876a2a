/**
 * `deno task evaluate --mlflow-run-id` against real runs (trained by `cli/train.ts` into a
 * file store, read back with MLflow's client): a checkpoint of another run (or of none) is
 * refused before anything is written unless `--force`, which is recorded as a tag; runs are
 * found by name too; a second evaluation on the same file goes to a new folder.
 */
import assert from "#assert";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import { exists, runCli, tinyTrainArgs, writeTinyData } from "./_train_cli.ts";

const ignore = await skipUnlessPython("numpy", "mlflow");

interface PyView {
  tags: Record<string, string>;
  folders: string[];
  sha: Record<string, string>;
}

/** A run's tags, its evaluation folders and the sha-256 of each index.html, via MLflow. */
function pyView(uri: string, runId: string): Promise<PyView> {
  return pythonJson<PyView>(
    `
import hashlib, json, sys, tempfile
from mlflow import MlflowClient
c = MlflowClient(sys.argv[1])
rid = sys.argv[2]
folders = [a.path for a in c.list_artifacts(rid, "evaluations")]
sha = {}
for f in folders:
    p = c.download_artifacts(rid, f + "/index.html", tempfile.mkdtemp())
    sha[f] = hashlib.sha256(open(p, "rb").read()).hexdigest()
print(json.dumps({"tags": c.get_run(rid).data.tags, "folders": folders, "sha": sha}))`,
    { args: [uri, runId], env: { MLFLOW_ALLOW_FILE_STORE: "true" } },
  );
}

Deno.test({
  name:
    "evaluate --mlflow-run-id refuses another run's checkpoint (--force records it), takes names, never replaces an evaluation",
  ignore,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "evaluate_run_" });
    try {
      const data = await writeTinyData(dir);
      const uri = `${dir}/mlruns`;
      const ids: Record<string, string> = {};
      for (const name of ["A", "B"]) {
        const r = await runCli("train", [
          ...tinyTrainArgs(data, `${dir}/${name}`),
          "--epochs",
          "1",
          "--mlflow",
          "--mlflow-tracking-uri",
          uri,
          "--mlflow-run-name",
          `run-${name}`,
        ]);
        assert.equal(r.code, 0, r.stderr);
        ids[name] = JSON.parse(await Deno.readTextFile(`${dir}/${name}/last/state.json`)).run.runId;
      }
      assert.equal(
        (await runCli("train", [...tinyTrainArgs(data, `${dir}/U`), "--epochs", "1"])).code,
        0,
      );
      const evaluate = (checkpoint: string, out: string, ...extra: string[]) =>
        runCli("evaluate", [
          "--checkpoint",
          `${dir}/${checkpoint}/best`,
          "--npz",
          data.val,
          "--output-dir",
          `${dir}/${out}`,
          "--device",
          "cpu",
          "--mlflow-tracking-uri",
          uri,
          ...extra,
        ]);

      await t.step("B's checkpoint on run A: refused before anything is written", async () => {
        const r = await evaluate("B", "evalBA", "--mlflow-run-id", ids.A);
        assert.equal(r.code, 1);
        assert.equal(
          r.stderr.trim(),
          `error: Cannot attach the evaluation of checkpoint ${dir}/B/best to run run-A ` +
            `(${ids.A}): the checkpoint belongs to run ${ids.B}; pass --mlflow-run-id ${ids.B}, ` +
            "or pass --force to attach it anyway (recorded as a run tag)",
        );
        assert.ok(!(await exists(`${dir}/evalBA`)), "no bundle written");
        assert.deepEqual((await pyView(uri, ids.A)).folders, []);
      });

      await t.step("an untracked checkpoint: refused, saying it records no run", async () => {
        const r = await evaluate("U", "evalU", "--mlflow-run-id", ids.A);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /the checkpoint records no MLflow run .*; pass --force/);
      });

      await t.step("--force attaches it and records the tag", async () => {
        const r = await evaluate("B", "evalBA", "--mlflow-run-id", ids.A, "--force");
        assert.equal(r.code, 0, r.stderr);
        assert.match(
          r.stdout,
          new RegExp(`--force: attaching checkpoint .*B/best, which belongs to run ${ids.B}`),
        );
        const view = await pyView(uri, ids.A);
        assert.equal(view.tags["evaluation.forced.val"], `checkpoint of run ${ids.B}`);
        assert.deepEqual(view.folders, ["evaluations/val"]);
      });

      await t.step(
        "by run name; a second evaluation of val.npz goes to evaluations/val-2/",
        async () => {
          const before = (await pyView(uri, ids.A)).sha["evaluations/val"];
          const r = await evaluate("A", "evalA", "--mlflow-run-id", "run-A");
          assert.equal(r.code, 0, r.stderr);
          assert.match(
            r.stdout,
            /evaluations\/val\/ of the run holds an earlier evaluation; this one goes to evaluations\/val-2\/ \(nothing is replaced\)/,
          );
          assert.match(
            r.stdout,
            new RegExp(`Uploaded \\d+ files to evaluations/val-2/ of run run-A \\(${ids.A}\\)`),
          );
          const view = await pyView(uri, ids.A);
          assert.deepEqual(view.folders, ["evaluations/val", "evaluations/val-2"]);
          assert.equal(view.sha["evaluations/val"], before, "the first evaluation is untouched");
          assert.equal(view.tags["evaluation.forced.val-2"], undefined);
        },
      );

      await t.step("an unknown run name is an error naming it", async () => {
        const r = await evaluate("A", "evalX", "--mlflow-run-id", "run-Z");
        assert.equal(r.code, 1);
        assert.match(
          r.stderr,
          /Cannot find the run "run-Z" in .*: no run has that id, and by name: Cannot find run "run-Z" in experiment "component-x-lstm"/,
        );
        assert.ok(!(await exists(`${dir}/evalX`)));
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
