import assert from "#assert";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import { FileStore } from "../../src/tracking/file_store.ts";
import { absolutePath, denoFileSystem } from "../../src/tracking/file_system_deno.ts";
import { getOrCreateExperiment } from "../../src/tracking/tracking_store.ts";

const noMlflow = await skipUnlessPython("mlflow");

interface PyView {
  experiment: { id: string; name: string; stage: string };
  runs: {
    id: string;
    name: string;
    status: string;
    start: number;
    end: number | null;
    params: Record<string, string>;
    tags: Record<string, string>;
    metrics: Record<string, number | string>;
  }[];
  history: [number, number | string, number][];
  artifacts_root: [string, boolean][];
  artifacts_ckpt: [string, boolean, number | null][];
  default_exp: string;
  alias: { version: string; run_id: string; source: string };
}

Deno.test({
  name: "FileStore writes an mlruns folder that python MlflowClient reads back",
  ignore: noMlflow,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "filestore_" });
    try {
      const store = new FileStore(denoFileSystem(), absolutePath(`${dir}/mlruns`));
      const expId = await getOrCreateExperiment(store, "component-x-lstm");
      assert.match(expId, /^[1-9]\d{17}$/);
      assert.equal(await getOrCreateExperiment(store, "component-x-lstm"), expId);
      const run = await store.createRun({
        experimentId: expId,
        runName: "val-l128-tag-run1",
        userId: "tester",
        startTime: 1_700_000_000_000,
        tags: { "mlflow.user": "tester", "input.sha256/train": "ab" },
      });
      assert.match(run.runId, /^[0-9a-f]{32}$/);
      await store.logBatch(run.runId, {
        params: { hidden_size: "128", seed: "0", "nested/param": "x'y" },
        metrics: [1, 2, 3].map((epoch) => ({
          key: "val_loss",
          value: epoch === 2 ? NaN : 1 / epoch,
          timestamp: 1_700_000_000_000 + epoch,
          step: epoch,
        })).concat([{ key: "train/acc", value: Infinity, timestamp: 1_700_000_000_009, step: 1 }]),
      });
      // The same value again is fine; a different one is an error, as in MLflow.
      await store.logBatch(run.runId, { params: { seed: "0" } });
      await assert.rejects(
        () => store.logBatch(run.runId, { params: { seed: "1" } }),
        (e: unknown) =>
          e instanceof RangeError &&
          e.message.startsWith(
            `Cannot log param "seed" on run ${run.runId}: it was already logged`,
          ),
      );
      await store.uploadArtifact(run.runId, "metrics.csv", new TextEncoder().encode("epoch\n1\n"));
      await store.uploadArtifact(run.runId, "checkpoints/last/model.bin", new Uint8Array(10));
      await store.updateRun(run.runId, { status: "FINISHED", endTime: 1_700_000_000_500 });
      const mv = await store.createModelVersion(
        "component-x",
        `${run.artifactUri}/checkpoints/last`,
        run.runId,
      );
      assert.equal(mv.version, "1");
      await store.setRegisteredModelAlias("component-x", "champion", mv.version);

      const py = await pythonJson<PyView>(
        `
import json, math, sys
from mlflow import MlflowClient
c = MlflowClient(tracking_uri=sys.argv[1], registry_uri=sys.argv[1])
e = c.get_experiment_by_name("component-x-lstm")
runs = c.search_runs([e.experiment_id], filter_string="params.hidden_size = '128'")
def num(v): return v if math.isfinite(v) else str(v)
out = {
  "experiment": {"id": e.experiment_id, "name": e.name, "stage": e.lifecycle_stage},
  "runs": [{"id": r.info.run_id, "name": r.info.run_name, "status": r.info.status,
            "start": r.info.start_time, "end": r.info.end_time, "params": r.data.params,
            "tags": r.data.tags, "metrics": {k: num(v) for k, v in r.data.metrics.items()}}
           for r in runs],
  "history": [[m.step, num(m.value), m.timestamp]
              for m in c.get_metric_history(runs[0].info.run_id, "val_loss")],
  "artifacts_root": [[a.path, a.is_dir] for a in c.list_artifacts(runs[0].info.run_id)],
  "artifacts_ckpt": [[a.path, a.is_dir, a.file_size]
                     for a in c.list_artifacts(runs[0].info.run_id, "checkpoints/last")],
  "default_exp": c.get_experiment("0").name,
}
mv = c.get_model_version_by_alias("component-x", "champion")
out["alias"] = {"version": str(mv.version), "run_id": mv.run_id, "source": mv.source}
print(json.dumps(out))
`,
        { args: [`${dir}/mlruns`], env: { MLFLOW_ALLOW_FILE_STORE: "true" } },
      );
      assert.deepEqual(py.experiment, { id: expId, name: "component-x-lstm", stage: "active" });
      assert.equal(py.default_exp, "Default");
      assert.equal(py.runs.length, 1);
      const r = py.runs[0];
      assert.equal(r.id, run.runId);
      assert.equal(r.name, "val-l128-tag-run1");
      assert.equal(r.status, "FINISHED");
      assert.equal(r.start, 1_700_000_000_000);
      assert.equal(r.end, 1_700_000_000_500);
      assert.deepEqual(r.params, { hidden_size: "128", seed: "0", "nested/param": "x'y" });
      assert.equal(r.tags["mlflow.runName"], "val-l128-tag-run1");
      assert.equal(r.tags["input.sha256/train"], "ab");
      assert.deepEqual(r.metrics, { val_loss: 1 / 3, "train/acc": "inf" });
      assert.deepEqual(py.history, [
        [1, 1, 1_700_000_000_001],
        [2, "nan", 1_700_000_000_002],
        [3, 1 / 3, 1_700_000_000_003],
      ]);
      assert.deepEqual(py.artifacts_root, [["checkpoints", true], ["metrics.csv", false]]);
      assert.deepEqual(py.artifacts_ckpt, [["checkpoints/last/model.bin", false, 10]]);
      assert.deepEqual(py.alias, {
        version: "1",
        run_id: run.runId,
        source: `${run.artifactUri}/checkpoints/last`,
      });
      // And our reader agrees with what we wrote.
      assert.deepEqual(await store.getModelVersionByAlias("component-x", "champion"), {
        name: "component-x",
        version: "1",
        runId: run.runId,
        source: `${run.artifactUri}/checkpoints/last`,
      });
      const history = await store.getMetricHistory(run.runId, "val_loss");
      assert.deepEqual(history.map((m) => m.step), [1, 2, 3]);
      assert.ok(Number.isNaN(history[1].value));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "FileStore reads runs that python mlflow wrote",
  ignore: noMlflow,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "filestore_py_" });
    try {
      const ids = await pythonJson<{ exp: string; run: string }>(
        `
import json, sys
from mlflow import MlflowClient
c = MlflowClient(tracking_uri=sys.argv[1], registry_uri=sys.argv[1])
e = c.create_experiment("from python")
r = c.create_run(e, run_name="py-run1")
c.log_param(r.info.run_id, "lr", "0.001")
for s in range(3): c.log_metric(r.info.run_id, "loss", 1.0 / (s + 1), step=s, timestamp=1000 + s)
c.set_terminated(r.info.run_id, "KILLED")
print(json.dumps({"exp": e, "run": r.info.run_id}))
`,
        { args: [`${dir}/mlruns`], env: { MLFLOW_ALLOW_FILE_STORE: "true" } },
      );
      const store = new FileStore(denoFileSystem(), absolutePath(`${dir}/mlruns`));
      const exp = await store.getExperimentByName("from python");
      assert.equal(exp?.experimentId, ids.exp);
      const runs = await store.searchRuns([ids.exp]);
      assert.equal(runs.length, 1);
      assert.equal(runs[0].info.runId, ids.run);
      assert.equal(runs[0].info.runName, "py-run1");
      assert.equal(runs[0].info.status, "KILLED");
      assert.deepEqual(runs[0].params, { lr: "0.001" });
      assert.deepEqual(runs[0].metrics, { loss: 1 / 3 });
      assert.deepEqual(
        (await store.getMetricHistory(ids.run, "loss")).map((m) => [m.step, m.value, m.timestamp]),
        [[0, 1, 1000], [1, 0.5, 1001], [2, 1 / 3, 1002]],
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("FileStore rejects invalid keys and unknown runs", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "filestore_bad_" });
  try {
    const store = new FileStore(denoFileSystem(), absolutePath(`${dir}/mlruns`));
    const exp = await store.createExperiment("e");
    const run = await store.createRun({
      experimentId: exp,
      runName: "r",
      userId: "u",
      startTime: 1,
    });
    for (const key of ["../escape", "/abs", "a//b", "bad*char", "x".repeat(251)]) {
      await t.step(`param key ${JSON.stringify(key.slice(0, 20))}`, async () => {
        await assert.rejects(
          () => store.logBatch(run.runId, { params: { [key]: "v" } }),
          (e: unknown) =>
            e instanceof TypeError && e.message.startsWith(`Cannot log param "${key}"`),
        );
      });
    }
    await t.step("unknown run id", async () => {
      await assert.rejects(
        () => store.getRun("0123456789abcdef0123456789abcdef"),
        (e: unknown) =>
          e instanceof RangeError &&
          e.message.startsWith(`Cannot find run "0123456789abcdef0123456789abcdef"`),
      );
    });
    await t.step("duplicate experiment", async () => {
      await assert.rejects(
        () => store.createExperiment("e"),
        (e: unknown) =>
          e instanceof RangeError && e.message.includes("an experiment with that name exists"),
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
