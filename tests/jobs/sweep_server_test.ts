/**
 * Sweeps against a real `mlflow server` (sqlite- and PostgreSQL-backed), the shared
 * coordination point: shards racing for the parent run get one, and a 2 x 2 grid sharded two
 * ways by two processes yields one parent with four distinct children, read back with
 * MLflow's Python client.
 */
import assert from "#assert";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import { type MlflowTestServer, sqliteServerArgs, startMlflowServer } from "../_mlflow_server.ts";
import { skipUnlessPostgres, withMlflowOnPostgres } from "../_postgres.ts";
import { runDeno, tinyData, tinyTrainArgs } from "./_tiny_training.ts";
import { openSweepParent, sweepLockName } from "../../src/jobs/sweep_parent.ts";
import { RestStore } from "../../src/tracking/rest_store.ts";

const noMlflow = await skipUnlessPython("numpy", "mlflow");
const noPostgres = noMlflow || await skipUnlessPostgres();

interface SweepView {
  parents: {
    id: string;
    status: string;
    metrics: Record<string, number>;
    tags: Record<string, string>;
  }[];
  children: {
    id: string;
    name: string;
    status: string;
    parent: string;
    trial: string;
    params: Record<string, string>;
    best_f1: number;
    datasets: string[];
    models: string[];
  }[];
  csv: string;
  lock_stage: string | null;
}

const READ = `
import json, os, sys, tempfile, warnings
warnings.simplefilter("ignore")
import mlflow
from mlflow import MlflowClient
out, sys.stdout = sys.stdout, sys.stderr
uri, exp_name, sweep, lock = sys.argv[1:5]
mlflow.set_tracking_uri(uri)
c = MlflowClient()
e = c.get_experiment_by_name(exp_name)
runs = c.search_runs([e.experiment_id], filter_string=f"tags.\`sweep.id\` = '{sweep}'")
parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
csv = ""
if len(parents) == 1 and any(a.path == "sweep_results.csv" for a in c.list_artifacts(parents[0].info.run_id)):
    csv = open(c.download_artifacts(parents[0].info.run_id, "sweep_results.csv", tempfile.mkdtemp())).read()
models = mlflow.search_logged_models(experiment_ids=[e.experiment_id], output_format="list")
lk = c.get_experiment_by_name(lock)
print(json.dumps({
  "parents": [{"id": r.info.run_id, "status": r.info.status, "metrics": r.data.metrics,
               "tags": r.data.tags,
               "outputs": [o.model_id for o in (r.outputs.model_outputs if r.outputs else [])]}
              for r in parents],
  "children": [{"id": r.info.run_id, "name": r.info.run_name, "status": r.info.status,
                "parent": r.data.tags["mlflow.parentRunId"], "trial": r.data.tags.get("sweep.trial"),
                "params": r.data.params,
                "best_f1": max(m.value for m in c.get_metric_history(r.info.run_id, "val_macro_f1")),
                "datasets": sorted(d.dataset.name for d in r.inputs.dataset_inputs),
                "models": [m.model_id for m in models if m.source_run_id == r.info.run_id]}
               for r in children],
  "csv": csv, "lock_stage": lk.lifecycle_stage if lk else None}), file=out)
`;

async function raceForParent(server: MlflowTestServer): Promise<void> {
  const shards = 6;
  const opened = await Promise.all(
    Array.from({ length: shards }, () =>
      openSweepParent(new RestStore({ uri: server.uri }), {
        experiment: "race",
        sweepId: "sw-race",
        runName: "race-parent",
        userId: "ci",
        tags: {},
        params: { sweep_id: "sw-race" },
      })),
  );
  const ids = new Set(opened.map((o) => o.run.info.runId));
  assert.equal(ids.size, 1, `${shards} racing shards got parents ${[...ids]}`);
  assert.equal(opened.filter((o) => o.created).length, 1, "exactly one shard created it");
  const view = await pythonJson<SweepView>(READ, {
    args: [server.uri, "race", "sw-race", sweepLockName("race", "sw-race")],
  });
  assert.deepEqual(view.parents.map((p) => p.id), [...ids], "one active parent; the rest deleted");
  assert.equal(view.lock_stage, "deleted", "the lock is out of the UI");
}

async function twoShards(server: MlflowTestServer, dir: string): Promise<void> {
  const data = await tinyData(dir);
  await Deno.writeTextFile(`${dir}/grid.json`, '{"lr": [0.001, 0.003], "hidden-size": [4, 8]}');
  const shard = (i: number) =>
    runDeno("cli/sweep.ts", [
      "--grid",
      `${dir}/grid.json`,
      "--shard",
      `${i}/2`,
      "--output-dir",
      `${dir}/sweeps-${i}`,
      "--name",
      "grid-sweep",
      "--",
      ...tinyTrainArgs(data, 1).filter((a, k, all) =>
        a !== "--hidden-size" && all[k - 1] !== "--hidden-size"
      ),
      "--mlflow-tracking-uri",
      server.uri,
      "--mlflow-experiment",
      "sweeps",
    ]);
  const t0 = performance.now();
  const [a, b] = await Promise.all([shard(1), shard(2)]);
  console.log(`two shards of a 2 x 2 grid: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  assert.equal(a.code, 0, a.output);
  assert.equal(b.code, 0, b.output);
  const sweepId = /sweep (sw-[0-9a-f]{12}):/.exec(a.output)?.[1] ?? "";
  assert.equal(/sweep (sw-[0-9a-f]{12}):/.exec(b.output)?.[1], sweepId, "both derive the same id");
  assert.match(a.output + b.output, /created/);
  assert.match(a.output + b.output, /joined/);

  const view = await pythonJson<SweepView>(READ, {
    args: [server.uri, "sweeps", sweepId, sweepLockName("sweeps", sweepId)],
  });
  assert.equal(view.parents.length, 1, JSON.stringify(view.parents));
  const parent = view.parents[0];
  assert.equal(view.children.length, 4);
  assert.ok(view.children.every((c) => c.parent === parent.id && c.status === "FINISHED"));
  assert.deepEqual(
    view.children.map((c) => `${c.params.lr}/${c.params.hidden_size}`).sort(),
    ["0.001/4", "0.001/8", "0.003/4", "0.003/8"],
  );
  assert.deepEqual(view.children.map((c) => c.trial).sort(), ["1", "2", "3", "4"]);
  for (const c of view.children) {
    assert.deepEqual(c.datasets, ["train_sequences", "val_sequences"]);
    assert.equal(c.models.length, 1);
  }
  // The parent: ended, the best child's metric, a comparison table of all four.
  assert.equal(parent.status, "FINISHED");
  const best = Math.max(...view.children.map((c) => c.best_f1));
  assert.equal(parent.metrics.best_val_macro_f1, best);
  assert.ok(
    view.children.some((c) => c.id === parent.tags["sweep.best_run_id"] && c.best_f1 === best),
  );
  const rows = view.csv.trim().split("\n");
  assert.equal(
    rows[0],
    "rank,trial,run_name,run_id,status,lr,hidden_size,epochs,best_val_macro_f1,val_cost",
  );
  assert.equal(rows.length, 5);
  assert.deepEqual(
    rows.slice(1).map((r) => r.split(",")[3]).sort(),
    view.children.map((c) => c.id).sort(),
  );

  // A shard run again finds the same parent and skips what finished.
  const again = await shard(1);
  assert.equal(again.code, 0, again.output);
  assert.match(again.output, /joined/);
  assert.equal((again.output.match(/finished before, skipped/g) ?? []).length, 2);
}

/** Both scenarios against one server. */
async function scenarios(t: Deno.TestContext, server: MlflowTestServer, dir: string) {
  await t.step(
    "six shards racing for the parent run get the same one",
    () => raceForParent(server),
  );
  await t.step(
    "two shard processes: one parent, four distinct children",
    () => twoShards(server, dir),
  );
}

Deno.test({
  name:
    "sweep against a sqlite-backed server: racing shards get one parent; 2 x 2 grid by two shard processes",
  ignore: noMlflow,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "sweep_sqlite_" });
    const server = await startMlflowServer(sqliteServerArgs(dir), { logFile: `${dir}/server.log` });
    try {
      await scenarios(t, server, dir);
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "sweep against a PostgreSQL-backed server: racing shards get one parent; 2 x 2 grid by two shard processes",
  ignore: noPostgres,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "sweep_pg_" });
    try {
      await withMlflowOnPostgres(dir, (server) => scenarios(t, server, dir));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
