import assert from "#assert";
import { runPython, skipUnlessPython } from "../_python.ts";
import { sqliteServerArgs, startMlflowServer } from "../_mlflow_server.ts";
import { pyRuns, pySha256 } from "./_py_dump.ts";
import { checkpointBytes, epochMetrics, feedEpochs, simJob, writeMetricsCsv } from "./_sim.ts";
import { startRunTracking } from "../../src/jobs/run_tracking_deno.ts";
import { main as mlflowSync } from "../../cli/mlflow_sync.ts";
import { trainingParams } from "../../src/jobs/run_spec.ts";
import { TRAIN_FLAGS } from "../../cli/_train_flags.ts";
import { FileStore } from "../../src/tracking/file_store.ts";
import { absolutePath, denoFileSystem } from "../../src/tracking/file_system_deno.ts";
import { MlflowRequestError } from "../../src/tracking/mlflow_request_error.ts";
import { RestStore } from "../../src/tracking/rest_store.ts";
import { denoSpool } from "../../src/tracking/spool_deno.ts";
import { getOrCreateExperiment } from "../../src/tracking/tracking_store.ts";

const noMlflow = await skipUnlessPython("mlflow");
const EPOCH_KEYS = [
  "train_loss",
  "train_acc",
  "val_loss",
  "val_acc",
  "val_macro_f1",
  "lr",
  "val_cost",
  "epoch_seconds",
] as const;

async function sha256(bytes: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

function pyValue(v: number): number | string {
  return Number.isNaN(v) ? "nan" : v;
}

Deno.test({
  name: "RestStore and the run logger against a real mlflow server",
  ignore: noMlflow,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "mlflow_rest_" });
    const server = await startMlflowServer(sqliteServerArgs(dir), {
      logFile: `${dir}/server.log`,
    });
    console.log(`mlflow server up in ${server.startSeconds.toFixed(1)} s at ${server.uri}`);
    const store = new RestStore({ uri: server.uri });
    try {
      await t.step(
        "a run driven through the hooks lands complete (name, params, tags, metrics, artifacts)",
        async () => {
          const config = await simJob(dir, {
            mlflowTrackingUri: server.uri,
            mlflowExperiment: "hooks-exp",
          });
          // An existing run4 of the same prefix: the next run must be run5.
          await runPython(
            `import sys\nfrom mlflow import MlflowClient\nc = MlflowClient(sys.argv[1])\n` +
              `e = c.create_experiment("hooks-exp")\nc.create_run(e, run_name="val2025w48-l128-biLSTM-baseline-run4")\n` +
              `c.create_run(e, run_name="other-l128-x-run9")`,
            { args: [server.uri] },
          );
          const tracking = await startRunTracking(config, {
            windowSize: 128,
            inputFiles: { train_npz: config.run.trainNpz, val_npz: config.run.valNpz },
            runtime: { backend: "wasm", adapter: null, isFallbackAdapter: false },
            env: { USER: "tester" },
            log: () => {},
          });
          assert.equal(tracking.runName, "val2025w48-l128-biLSTM-baseline-run5");
          await tracking.hooks.onStart?.({ config, stepsPerEpoch: 10, startEpoch: 1 });
          const hookMs = await feedEpochs(tracking.hooks, [1, 2, 3]);
          const csv = await writeMetricsCsv(config.run.outputDir, [1, 2, 3]);
          const t0 = performance.now();
          await tracking.hooks.onEnd?.({ status: "FINISHED", bestValF1: 0.375 });
          const endMs = performance.now() - t0;
          console.log(
            `REST hooks per epoch (enqueue only): ${
              hookMs.map((m) => m.toFixed(2)).join(", ")
            } ms; ` +
              `onEnd (flush + final artifacts + status): ${endMs.toFixed(0)} ms`,
          );

          const [run] = (await pyRuns(server.uri, "hooks-exp")).filter((r) =>
            r.id === tracking.runId
          );
          assert.equal(run.name, "val2025w48-l128-biLSTM-baseline-run5");
          assert.equal(run.status, "FINISHED");
          assert.ok(run.end !== null && run.end >= run.start);
          assert.deepEqual(run.params, trainingParams(config.model, config.loop, config.run));
          // Params are every flag of deno task train, under the pipeline's names (but --help,
          // the flags that become tags: --mlflow-parent-run-id, --mlflow-tag, the deprecated
          // alias --class-weighted and, as the pipeline (None), the flags left unset).
          const notParams = [
            "--help",
            "--mlflow-parent-run-id",
            "--mlflow-tag",
            "--class-weighted",
            "--device",
            "--grad-clip",
            "--mlflow-run-name",
            "--resume-from",
            "--task",
          ];
          assert.deepEqual(
            Object.keys(run.params).sort(),
            TRAIN_FLAGS.filter((f) => !notParams.includes(f)).map((f) =>
              f.slice(2).replaceAll("-", "_")
            ).sort(),
          );
          assert.equal(run.params.train_npz, config.run.trainNpz);
          assert.equal(run.params.mlflow_tracking_uri, server.uri);
          assert.equal(run.params.hidden_size, "128");
          const [trainSha, valSha] = await pySha256([config.run.trainNpz, config.run.valNpz]);
          // Others commit meanwhile: the tagged commit must be HEAD or one of its ancestors.
          const commit = run.tags["mlflow.source.git.commit"];
          assert.match(commit, /^[0-9a-f]{40}$/);
          await runPython(
            `import subprocess, sys\nsubprocess.check_call(["git", "merge-base", "--is-ancestor", sys.argv[1], "HEAD"])`,
            { args: [commit] },
          );
          assert.equal(run.tags["input.train_npz.sha256"], trainSha);
          assert.equal(run.tags["input.val_npz.sha256"], valSha);
          assert.equal(run.tags["runtime.backend"], "wasm");
          assert.equal(run.tags["runtime.deno"], Deno.version.deno);
          assert.match(run.tags["runtime.tfjs"], /^\d+\.\d+\.\d+$/);
          for (const key of EPOCH_KEYS) {
            assert.deepEqual(
              run.history[key].map(([step, value]) => [step, value]),
              [1, 2, 3].map((e) => [e, pyValue(epochMetrics(e)[key]!)]),
              key,
            );
          }
          assert.deepEqual(Object.keys(run.history).sort(), [...EPOCH_KEYS].sort());
          const [statsSha] = await pySha256([config.run.featureStats]);
          assert.deepEqual(run.artifacts, {
            "metrics.csv": await sha256(new TextEncoder().encode(csv)),
            "feature_stats.json": statsSha,
            "checkpoints/last/model.safetensors": await sha256(checkpointBytes("last", 3)),
            "checkpoints/last/meta.json": await sha256(new TextEncoder().encode(`{"epoch":3}`)),
            "checkpoints/best/model.safetensors": await sha256(checkpointBytes("best", 3)),
            "checkpoints/best/meta.json": await sha256(new TextEncoder().encode(`{"epoch":3}`)),
          });
          // Our own reader agrees with the server.
          const ours = await store.getRun(tracking.runId);
          assert.equal(ours.info.status, "FINISHED");
          assert.ok(
            Number.isNaN((await store.getMetricHistory(tracking.runId, "val_loss"))[1].value),
          );
          const listed = await store.listArtifacts(tracking.runId, "checkpoints/last");
          assert.deepEqual(listed.map((a) => [a.path, a.isDir, a.fileSize]), [
            ["checkpoints/last/meta.json", false, 11],
            ["checkpoints/last/model.safetensors", false, 4096],
          ]);
        },
      );

      await t.step(
        "logBatch() splits 2500 metrics, 250 params and 150 tags to the server's limits",
        async () => {
          const exp = await getOrCreateExperiment(store, "limits");
          const run = await store.createRun({
            experimentId: exp,
            runName: "big",
            userId: "u",
            startTime: 1,
          });
          await store.logBatch(run.runId, {
            metrics: Array.from(
              { length: 2500 },
              (_, i) => ({ key: "m", value: i === 7 ? Infinity : i, timestamp: 1000 + i, step: i }),
            ),
            params: Object.fromEntries(
              Array.from({ length: 250 }, (_, i) => [`p${i}`, "v".repeat(500)]),
            ),
            tags: Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`t${i}`, String(i)])),
          });
          const [py] = await pyRuns(server.uri, "limits");
          assert.equal(py.history.m.length, 2500);
          // The sqlite backend stores +Infinity as the largest double (MLflow's SQL store clamps).
          assert.deepEqual(py.history.m[7], [7, Number.MAX_VALUE, 1007]);
          assert.equal(Object.keys(py.params).length, 250);
          assert.equal(Object.keys(py.tags).filter((k) => /^t\d+$/.test(k)).length, 150);
        },
      );

      await t.step("registry: model version and alias round-trip through python", async () => {
        const exp = await getOrCreateExperiment(store, "limits");
        const [run] = await store.searchRuns([exp]);
        await store.uploadArtifact(run.info.runId, "model/weights.bin", new Uint8Array([1, 2, 3]));
        const mv = await store.createModelVersion(
          "cx-lstm",
          `${run.info.artifactUri}/model`,
          run.info.runId,
        );
        await store.setRegisteredModelAlias("cx-lstm", "champion", mv.version);
        const py = JSON.parse(
          await runPython(
            `import json, sys\nfrom mlflow import MlflowClient\nc = MlflowClient(sys.argv[1], registry_uri=sys.argv[1])\n` +
              `v = c.get_model_version_by_alias("cx-lstm", "champion")\nprint(json.dumps([v.version, v.run_id, v.source]))`,
            { args: [server.uri] },
          ),
        );
        assert.deepEqual(py, [mv.version, run.info.runId, `${run.info.artifactUri}/model`]);
        assert.deepEqual(await store.getModelVersionByAlias("cx-lstm", "champion"), mv);
        assert.equal(await store.getModelVersionByAlias("cx-lstm", "nope"), null);
        assert.equal(await store.getModelVersionByAlias("no-such-model", "champion"), null);
      });

      await t.step("a missing run is a typed MlflowRequestError", async () => {
        await assert.rejects(
          () => store.getRun("0123456789abcdef0123456789abcdef"),
          (e: unknown) =>
            e instanceof MlflowRequestError && e.status === 404 &&
            e.errorCode === "RESOURCE_DOES_NOT_EXIST" &&
            e.endpoint === "GET /api/2.0/mlflow/runs/get" &&
            e.message.startsWith(
              `Cannot get run 0123456789abcdef0123456789abcdef at ${server.uri}: HTTP 404`,
            ),
        );
      });

      await t.step(
        "mlflow-sync uploads a local FileStore run with steps, timestamps, artifacts; rerun skips",
        async () => {
          const local = new FileStore(denoFileSystem(), absolutePath(`${dir}/mlruns`));
          const exp = await getOrCreateExperiment(local, "offline");
          const run = await local.createRun({
            experimentId: exp,
            runName: "off-run1",
            userId: "me",
            startTime: 1_700_000_000_000,
            tags: { k: "v" },
          });
          await local.logBatch(run.runId, {
            params: { hidden_size: "64" },
            metrics: [1, 2].map((e) => ({
              key: "val_loss",
              value: e === 2 ? NaN : 0.5,
              timestamp: 1_700_000_000_000 + e * 1000,
              step: e,
            })),
          });
          await local.uploadArtifact(
            run.runId,
            "checkpoints/last/model.safetensors",
            checkpointBytes("last", 2),
          );
          await local.updateRun(run.runId, { status: "KILLED", endTime: 1_700_000_009_000 });
          const lines: string[] = [];
          assert.equal(
            await mlflowSync(
              ["--from", `${dir}/mlruns`, "--to", server.uri, "--experiment", "offline"],
              {},
              (l) => lines.push(l),
            ),
            0,
          );
          const [py] = await pyRuns(server.uri, "offline");
          assert.equal(py.name, "off-run1");
          assert.equal(py.status, "KILLED");
          assert.equal(py.start, 1_700_000_000_000);
          assert.equal(py.end, 1_700_000_009_000);
          assert.deepEqual(py.params, { hidden_size: "64" });
          assert.equal(py.tags.k, "v");
          assert.deepEqual(py.history.val_loss, [[1, 0.5, 1_700_000_001_000], [
            2,
            "nan",
            1_700_000_002_000,
          ]]);
          assert.deepEqual(py.artifacts, {
            "checkpoints/last/model.safetensors": await sha256(checkpointBytes("last", 2)),
          });
          assert.equal(
            await mlflowSync(
              ["--from", `${dir}/mlruns`, "--to", server.uri],
              {},
              (l) => lines.push(l),
            ),
            0,
          );
          assert.equal((await pyRuns(server.uri, "offline")).length, 1);
          assert.ok(
            lines.some((l) => l.includes("already on") && l.includes("skipped")),
            lines.join("\n"),
          );
        },
      );

      await t.step("mlflow-sync --spool sends a spool left by a run", async () => {
        const exp = await getOrCreateExperiment(store, "spooled");
        const run = await store.createRun({
          experimentId: exp,
          runName: "sp",
          userId: "u",
          startTime: 5,
        });
        const spoolDir = `${dir}/out/mlflow_spool/${run.runId}`;
        const spool = denoSpool(spoolDir, {
          trackingUri: server.uri,
          runId: run.runId,
          experimentId: exp,
        });
        await spool.append([
          {
            kind: "batch",
            batch: { metrics: [{ key: "loss", value: -Infinity, timestamp: 10, step: 1 }] },
          },
          { kind: "artifact", path: "metrics.csv", bytes: new TextEncoder().encode("a,b\n") },
          {
            kind: "batch",
            batch: { metrics: [{ key: "loss", value: 0.25, timestamp: 11, step: 2 }] },
          },
          { kind: "update", status: "FAILED", endTime: 99 },
        ]);
        const lines: string[] = [];
        assert.equal(
          await mlflowSync(
            ["--spool", `${dir}/out/mlflow_spool`],
            { MLFLOW_TRACKING_URI: server.uri },
            (l) => lines.push(l),
          ),
          0,
        );
        const [py] = await pyRuns(server.uri, "spooled");
        assert.equal(py.status, "FAILED");
        assert.equal(py.end, 99);
        assert.deepEqual(py.history.loss, [[1, -Number.MAX_VALUE, 10], [2, 0.25, 11]]);
        assert.deepEqual(py.artifacts, {
          "metrics.csv": await sha256(new TextEncoder().encode("a,b\n")),
        });
        await assert.rejects(() => Deno.stat(spoolDir), Deno.errors.NotFound);
      });
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
