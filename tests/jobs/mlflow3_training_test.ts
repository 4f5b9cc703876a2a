/**
 * A real tiny `deno task train` (and `deno task evaluate`) logging to the file store, a
 * sqlite-backed and a PostgreSQL-backed `mlflow server`, read back with MLflow's own
 * Python client: data set inputs with their contexts, the logged model linked to the run,
 * its registration from `models:/<id>`, system metrics and the source tags.
 */
import assert from "#assert";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import { sqliteServerArgs, startMlflowServer } from "../_mlflow_server.ts";
import { skipUnlessPostgres, withMlflowOnPostgres } from "../_postgres.ts";
import { runDeno, tinyData, tinyTrainArgs } from "./_tiny_training.ts";
import { openTrackingStore } from "../../src/tracking/open_tracking_store_deno.ts";
import { registerPromotion } from "../../src/review/promotion.ts";
import type { PromotionDecision } from "../../src/review/promotion_decision.ts";

const noMlflow = await skipUnlessPython("numpy", "mlflow");
const noPostgres = noMlflow || await skipUnlessPostgres();
const INTERVAL_S = 0.25;

interface View {
  run: { status: string; start: number; end: number; tags: Record<string, string> };
  inputs: { name: string; digest: string; context: string; source: string; profile: string }[];
  outputs: { model_id: string; step: number }[];
  models: {
    model_id: string;
    name: string;
    status: string;
    source_run_id: string;
    metrics: Record<string, [number, number]>;
    artifacts: string[];
    flavor: Record<string, unknown>;
  }[];
  run_metric_at_step: Record<string, number>;
  system: Record<string, [number, number, number][]>;
  sha256: Record<string, string>;
  ours: { model_id: string | null; run_id: string; source: string };
  python: { model_id: string | null; run_id: string; source: string };
}

const READ = `
import hashlib, json, os, sys, tempfile, warnings
warnings.simplefilter("ignore")
import mlflow
from mlflow import MlflowClient
from mlflow.models import Model
out, sys.stdout = sys.stdout, sys.stderr
uri, rid, version, files = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
mlflow.set_tracking_uri(uri); mlflow.set_registry_uri(uri)
c = MlflowClient()
r = c.get_run(rid)
inputs = [{"name": d.dataset.name, "digest": d.dataset.digest, "source": d.dataset.source,
           "profile": d.dataset.profile,
           "context": {t.key: t.value for t in d.tags}.get("mlflow.data.context")}
          for d in r.inputs.dataset_inputs]
outputs = [{"model_id": o.model_id, "step": o.step} for o in r.outputs.model_outputs]
models = []
for m in mlflow.search_logged_models(experiment_ids=[r.info.experiment_id],
                                     filter_string=f"source_run_id = '{rid}'", output_format="list"):
    local = mlflow.artifacts.download_artifacts(f"models:/{m.model_id}", dst_path=tempfile.mkdtemp())
    models.append({"model_id": m.model_id, "name": m.name, "status": str(m.status),
                   "source_run_id": m.source_run_id,
                   "metrics": {x.key: [x.step, x.value] for x in m.metrics},
                   "artifacts": sorted(os.listdir(local)),
                   "flavor": Model.load(os.path.join(local, "MLmodel")).flavors})
step = outputs[0]["step"] if outputs else -1
at_step = {}
for k in r.data.metrics:
    if not k.startswith("system/"):
        at_step.update({k: h.value for h in c.get_metric_history(rid, k) if h.step == step})
system = {k: [[h.step, h.value, h.timestamp] for h in c.get_metric_history(rid, k)]
          for k in r.data.metrics if k.startswith("system/")}
ours = c.get_model_version("component-x-lstm", version)
mid = models[0]["model_id"] if models else None
py = mlflow.register_model(f"models:/{mid}", "py-registered")
def mv(v): return {"model_id": v.model_id, "run_id": v.run_id, "source": v.source}
print(json.dumps({
  "run": {"status": r.info.status, "start": r.info.start_time, "end": r.info.end_time,
          "tags": r.data.tags},
  "inputs": sorted(inputs, key=lambda i: i["context"]), "outputs": outputs, "models": models,
  "run_metric_at_step": at_step, "system": system,
  "sha256": {k: hashlib.sha256(open(p, "rb").read()).hexdigest() for k, p in files.items()},
  "ours": mv(ours), "python": mv(c.get_model_version("py-registered", py.version))}), file=out)
`;

/** Trains, evaluates and registers against `uri`; returns MLflow's view of the run. */
async function trainAndRead(dir: string, uri: string, pythonUri = uri): Promise<View> {
  const data = await tinyData(dir, 256);
  const test = `${dir}/data/test_sequences.npz`;
  await Deno.copyFile(data.val, test);
  const env = { MLFLOW_ALLOW_FILE_STORE: "true" };
  const trained = await runDeno("cli/train.ts", [
    ...tinyTrainArgs(data, 3),
    "--output-dir",
    `${dir}/out`,
    "--mlflow",
    "--mlflow-tracking-uri",
    uri,
    "--mlflow-experiment",
    "mlflow3",
    "--log-system-metrics",
    "--system-metrics-interval",
    String(INTERVAL_S),
  ], env);
  assert.equal(trained.code, 0, trained.output);
  const runId = /MLflow: run \S+ \(([0-9a-f]{32})\)/.exec(trained.output)?.[1] ?? "";
  assert.notEqual(runId, "", trained.output);
  const evaluated = await runDeno("cli/evaluate.ts", [
    "--checkpoint",
    `${dir}/out/best`,
    "--npz",
    test,
    "--output-dir",
    `${dir}/eval`,
    "--device",
    "cpu",
    "--mlflow-run-id",
    runId,
    "--mlflow-tracking-uri",
    uri,
  ], env);
  assert.equal(evaluated.code, 0, evaluated.output);
  // promote's registration path: a run with a logged model registers models:/<id>.
  const store = await openTrackingStore(uri, env);
  const run = await store.getRun(runId);
  const version = await registerPromotion(
    store,
    { run, evidence: {} as never },
    { promote: true, checks: [] } as unknown as PromotionDecision,
    "checkpoints/best",
    { model: "component-x-lstm", alias: "champion" },
    { user: "ci", when: "2026-01-01T00:00:00Z", reason: "test" },
  );
  return await pythonJson<View>(READ, {
    args: [
      pythonUri,
      runId,
      version,
      JSON.stringify({ train: data.train, val: data.val, test }),
    ],
    env,
  });
}

function assertView(view: View, opts: { modelIdOnVersion: boolean }): void {
  assert.equal(view.run.status, "FINISHED");
  // Data sets: both training files and the evaluated one, with their contexts and digests.
  assert.deepEqual(view.inputs.map((i) => [i.name, i.context]), [
    ["test_sequences", "evaluation"],
    ["train_sequences", "training"],
    ["val_sequences", "validation"],
  ]);
  const byName = Object.fromEntries(view.inputs.map((i) => [i.name, i]));
  for (
    const [key, name] of [["train", "train_sequences"], ["val", "val_sequences"], [
      "test",
      "test_sequences",
    ]]
  ) {
    assert.equal(byName[name].digest, view.sha256[key].slice(0, 36), name);
    assert.equal(JSON.parse(byName[name].profile).sha256, view.sha256[key]);
  }
  const profile = JSON.parse(byName.train_sequences.profile);
  assert.equal(profile.rows, 256);
  assert.equal(profile.window, 16);
  assert.equal(
    profile.class_counts["0"] + profile.class_counts["1"] + profile.class_counts["2"] +
      profile.class_counts["3"] + profile.class_counts["4"],
    256,
  );
  assert.ok(JSON.parse(byName.train_sequences.source).uri.endsWith("/data/train_sequences.npz"));
  // The logged model: found by search, linked to the run at its epoch, READY, its metrics
  // those of that epoch, its artifacts the checkpoint and an MLmodel of this toolkit.
  assert.equal(view.models.length, 1);
  const m = view.models[0];
  assert.deepEqual(view.outputs, [{ model_id: m.model_id, step: view.outputs[0].step }]);
  assert.equal(m.status, "READY");
  assert.ok(view.outputs[0].step >= 0 && view.outputs[0].step <= 2, "epochs count from 0");
  for (const [key, value] of Object.entries(view.run_metric_at_step)) {
    if (key.startsWith("eval_")) continue; // evaluate logs its own, not of the epoch
    assert.deepEqual(m.metrics[key], [view.outputs[0].step, value], key);
  }
  assert.ok(m.metrics.val_macro_f1 !== undefined);
  for (
    const f of [
      "MLmodel",
      "state.json",
      "weights.safetensors",
      "model.safetensors",
      "feature_stats.json",
    ]
  ) {
    assert.ok(m.artifacts.includes(f), `${f} in ${m.artifacts}`);
  }
  const flavor = (m.flavor as Record<string, Record<string, unknown>>).component_x_lstm;
  assert.equal(flavor.framework, "TensorFlow.js");
  assert.equal(flavor.epoch, view.outputs[0].step);
  assert.equal((flavor.model_config as Record<string, unknown>).hiddenSize, 8);
  assert.equal(Object.keys(m.flavor).length, 1, "no Python flavor is claimed");
  // Registration from models:/<id>, as mlflow.register_model does it.
  assert.equal(view.ours.source, `models:/${m.model_id}`);
  assert.deepEqual(view.ours, { ...view.python });
  assert.equal(view.ours.model_id, opts.modelIdOnVersion ? m.model_id : null);
  // System metrics: a run longer than two sampling periods has at least two points of each.
  const seconds = (view.run.end - view.run.start) / 1000;
  assert.ok(seconds > 2 * INTERVAL_S, `the run took ${seconds} s`);
  console.log(
    `system metrics: ${view.system["system/cpu_utilization_percentage"]?.length} points in a ` +
      `${seconds.toFixed(1)} s run sampled every ${INTERVAL_S} s`,
  );
  for (
    const key of [
      "system/cpu_utilization_percentage",
      "system/system_memory_usage_megabytes",
      "system/system_memory_usage_percentage",
      "system/process_memory_rss_megabytes",
    ]
  ) {
    const points = view.system[key] ?? [];
    assert.ok(points.length >= 2, `${key}: ${points.length} points in ${seconds} s`);
    assert.deepEqual(points.map((p) => p[0]), points.map((_, i) => i), "steps 0, 1, 2, ...");
    assert.ok(points.every((p) => Number.isFinite(p[1]) && p[1] >= 0));
  }
  assert.ok(view.system["system/cpu_utilization_percentage"].every((p) => p[1] <= 100));
  // Source tags as Python sets them.
  assert.equal(view.run.tags["mlflow.source.name"], "cli/train.ts");
  assert.match(view.run.tags["mlflow.source.git.commit"] ?? "", /^[0-9a-f]{40}$/);
}

/** The checkout's branch as git names it, or undefined when detached (no tag then). */
async function gitBranch(): Promise<string | undefined> {
  const out = await new Deno.Command("git", {
    args: ["symbolic-ref", "--quiet", "--short", "HEAD"],
    cwd: new URL("../../", import.meta.url).pathname,
    stdout: "piped",
    stderr: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  return out.success && text ? text : undefined;
}

Deno.test({
  name: "train --mlflow to the file store: data sets, logged model, registration, system metrics",
  ignore: noMlflow,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "mlflow3_file_" });
    try {
      const view = await trainAndRead(dir, `${dir}/mlruns`, `file://${dir}/mlruns`);
      assertView(view, { modelIdOnVersion: true });
      assert.equal(view.run.tags["mlflow.source.git.branch"], await gitBranch());
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "train --mlflow to a sqlite-backed mlflow server: the same, read by MLflow's client",
  ignore: noMlflow,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "mlflow3_sqlite_" });
    const server = await startMlflowServer(sqliteServerArgs(dir), { logFile: `${dir}/server.log` });
    try {
      // MLflow 3.17's SQL registry keeps no model_id on versions, for Python's client too.
      assertView(await trainAndRead(dir, server.uri), { modelIdOnVersion: false });
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "train --mlflow to a PostgreSQL-backed mlflow server: the same, read by MLflow's client",
  ignore: noPostgres,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "mlflow3_pg_" });
    try {
      await withMlflowOnPostgres(dir, async (server) => {
        assertView(await trainAndRead(dir, server.uri), { modelIdOnVersion: false });
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
