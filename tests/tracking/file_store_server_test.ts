import assert from "#assert";
import { skipUnlessPython } from "../_python.ts";
import { startMlflowServer } from "../_mlflow_server.ts";
import { feedEpochs, simJob, writeMetricsCsv } from "./_sim.ts";
import { startRunTracking } from "../../src/jobs/run_tracking_deno.ts";
import { RestStore } from "../../src/tracking/rest_store.ts";

const noMlflow = await skipUnlessPython("mlflow");

Deno.test({
  name: "mlflow server --backend-store-uri mlruns lists a run FileStore wrote, over REST",
  ignore: noMlflow,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "mlflow_fs_server_" });
    try {
      // A train-like run into a local mlruns folder (a plain path = file store), timing hooks.
      const config = await simJob(dir, {
        mlflowExperiment: "local-exp",
        mlflowTrackingUri: `${dir}/mlruns`,
      });
      let tracking;
      let hookMs: number[];
      {
        tracking = await startRunTracking(config, {
          windowSize: 64,
          env: { USER: "me" },
          log: () => {},
        });
        hookMs = await feedEpochs(tracking.hooks, [1, 2, 3]);
        await writeMetricsCsv(config.run.outputDir, [1, 2, 3]);
        const t0 = performance.now();
        await tracking.hooks.onEnd?.({ status: "FINISHED", bestValF1: 0.4 });
        const flushed = await tracking.logger.flush();
        console.log(
          `FileStore hooks per epoch (enqueue): ${
            hookMs.map((m) => m.toFixed(2)).join(", ")
          } ms; ` +
            `onEnd ${(performance.now() - t0).toFixed(0)} ms; flushed=${flushed}`,
        );
      }
      assert.equal(tracking.location, `${dir}/mlruns`);
      assert.equal(tracking.runName, "val2025w48-l64-biLSTM-baseline-run1");

      const server = await startMlflowServer(["--backend-store-uri", `${dir}/mlruns`], {
        logFile: `${dir}/server.log`,
      });
      try {
        const rest = new RestStore({ uri: server.uri });
        const exp = await rest.getExperimentByName("local-exp");
        assert.equal(exp?.experimentId, tracking.experimentId);
        const runs = await rest.searchRuns([tracking.experimentId]);
        assert.deepEqual(runs.map((r) => [r.info.runId, r.info.runName, r.info.status]), [
          [tracking.runId, "val2025w48-l64-biLSTM-baseline-run1", "FINISHED"],
        ]);
        assert.equal(runs[0].params.hidden_size, "128");
        assert.equal(runs[0].tags["mlflow.user"], "me");
        assert.equal(runs[0].metrics.val_macro_f1, 0.3 + 3 / 40);
        const history = await rest.getMetricHistory(tracking.runId, "val_macro_f1");
        assert.deepEqual(
          history.map((m) => [m.step, m.value]),
          [1, 2, 3].map((e) => [e, 0.3 + e / 40]),
        );
        const top = await rest.listArtifacts(tracking.runId);
        assert.deepEqual(top.map((a) => [a.path, a.isDir]), [
          ["checkpoints", true],
          ["feature_stats.json", false],
          ["metrics.csv", false],
        ]);
      } finally {
        await server.stop();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
