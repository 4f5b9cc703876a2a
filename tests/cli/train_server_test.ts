/**
 * `deno task train` processes against a real `mlflow server` backed by PostgreSQL (and the
 * file store for the concurrent case): six trainings started at once get six distinct run
 * names, `--resume-from` continues the same run on the server, and a second Ctrl-C while
 * the server is down exits at once with everything unsent in the spool, which
 * `mlflow-sync --spool` then delivers.
 */
import assert from "#assert";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import { skipUnlessPostgres, withMlflowOnPostgres } from "../_postgres.ts";
import { runCli, spawnCli, tinyTrainArgs, writeTinyData } from "./_train_cli.ts";

const noMlflow = await skipUnlessPython("numpy", "mlflow");
const ignore = noMlflow || await skipUnlessPostgres();

interface PyRunInfo {
  id: string;
  name: string;
  status: string;
  steps: number[];
  params: Record<string, string>;
}

/** Runs of an experiment as MLflow's client sees them, with val_macro_f1's steps. */
function pyRunInfos(uri: string, experiment: string): Promise<PyRunInfo[]> {
  return pythonJson<PyRunInfo[]>(
    `
import json, sys
from mlflow import MlflowClient
c = MlflowClient(sys.argv[1])
e = c.get_experiment_by_name(sys.argv[2])
out = []
for r in c.search_runs([e.experiment_id], max_results=1000):
    steps = [m.step for m in c.get_metric_history(r.info.run_id, "val_macro_f1")]
    out.append({"id": r.info.run_id, "name": r.info.run_name, "status": r.info.status,
                "steps": steps, "params": r.data.params})
print(json.dumps(out))`,
    { args: [uri, experiment], env: { MLFLOW_ALLOW_FILE_STORE: "true" } },
  );
}

/** Starts `n` trainings at once into `dir/conc<i>`, logging to `uri`; all must succeed. */
async function concurrentTrainings(
  dir: string,
  data: { train: string; val: string; stats: string },
  uri: string,
  n: number,
): Promise<void> {
  const results = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      runCli("train", [
        ...tinyTrainArgs(data, `${dir}/conc${i}`),
        "--epochs",
        "1",
        "--mlflow",
        "--mlflow-tracking-uri",
        uri,
        "--mlflow-experiment",
        "concurrent",
        "--data-version",
        "v1",
        "--model-tag",
        "conc",
      ])),
  );
  for (const r of results) assert.equal(r.code, 0, r.stderr);
}

function assertDistinctNames(runs: PyRunInfo[], n: number): void {
  const names = runs.map((r) => r.name).sort();
  assert.equal(runs.length, n);
  assert.equal(new Set(names).size, n, names.join(", "));
  for (const name of names) assert.match(name, /^v1-l8-conc-run\d+$/);
}

Deno.test({
  name: "six trainings started at once on the file store get six distinct run names",
  ignore: noMlflow,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "train_conc_file_" });
    try {
      const data = await writeTinyData(dir);
      await concurrentTrainings(dir, data, `${dir}/mlruns`, 6);
      assertDistinctNames(await pyRunInfos(`${dir}/mlruns`, "concurrent"), 6);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "train against mlflow server on PostgreSQL: concurrent names, resume, second Ctrl-C",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "train_pg_" });
    try {
      await withMlflowOnPostgres(dir, (server) => trainAgainst(t, dir, server.uri, server));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

async function trainAgainst(
  t: Deno.TestContext,
  dir: string,
  uri: string,
  server: { stop(): Promise<void>; restart(): Promise<void> },
): Promise<void> {
  const data = await writeTinyData(dir);
  await t.step("six trainings started at once get six distinct run names", async () => {
    await concurrentTrainings(dir, data, uri, 6);
    const runs = await pyRunInfos(uri, "concurrent");
    assertDistinctNames(runs, 6);
    for (const r of runs) assert.deepEqual([r.status, r.steps], ["FINISHED", [0]]);
  });

  await t.step("--resume-from continues the same run on the server", async () => {
    const args = [
      ...tinyTrainArgs(data, `${dir}/resume`),
      "--mlflow",
      "--mlflow-tracking-uri",
      uri,
      "--mlflow-experiment",
      "resume",
    ];
    assert.equal((await runCli("train", [...args, "--epochs", "1"])).code, 0);
    const r = await runCli("train", [
      ...args,
      "--epochs",
      "3",
      "--resume-from",
      `${dir}/resume/last`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /MLflow: continuing run l8-run1 \([0-9a-f]{32}\) after epoch 1/);
    const runs = await pyRunInfos(uri, "resume");
    assert.equal(runs.length, 1);
    assert.deepEqual([runs[0].status, runs[0].steps], ["FINISHED", [0, 1, 2]]);
    assert.equal(runs[0].params.epochs, "1", "params keep the first training's values");
  });

  await t.step(
    "a second Ctrl-C while the server is down exits at once; the spool holds the rest",
    async () => {
      const live = spawnCli("train", [
        ...tinyTrainArgs(data, `${dir}/kill`),
        "--epochs",
        "1000",
        "--mlflow",
        "--mlflow-tracking-uri",
        uri,
        "--mlflow-experiment",
        "killed",
      ]);
      await live.until("saved ");
      await server.stop();
      live.child.kill("SIGINT");
      await live.until("interrupt: finishing the current step");
      await new Promise((r) => setTimeout(r, 1500)); // ending the run, server down
      const t0 = performance.now();
      live.child.kill("SIGINT");
      const { code, out } = await live.finish();
      const seconds = (performance.now() - t0) / 1000;
      assert.equal(code, 130, out);
      console.log(`exit ${seconds.toFixed(2)} s after the second SIGINT`);
      assert.ok(seconds < 5, `${seconds} s`);
      const spool = /saved in (\S+); send them with deno task mlflow-sync --spool/.exec(out)
        ?.[1];
      assert.ok(spool !== undefined, out);
      const records = await Deno.readTextFile(`${spool}/records.jsonl`);
      assert.match(records.trim().split("\n").pop()!, /"kind":"update","status":"KILLED"/);

      await server.restart();
      const sync = await runCli("mlflow_sync", [
        "--spool",
        `${dir}/kill/mlflow_spool`,
        "--to",
        uri,
      ]);
      assert.equal(sync.code, 0, sync.stderr);
      const [run] = await pyRunInfos(uri, "killed");
      const last = JSON.parse(await Deno.readTextFile(`${dir}/kill/last/state.json`)).epoch;
      assert.equal(run.status, "KILLED");
      assert.deepEqual(run.steps, Array.from({ length: last }, (_, i) => i));
    },
  );
}
