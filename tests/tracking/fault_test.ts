import assert from "#assert";
import { skipUnlessPython } from "../_python.ts";
import { sqliteServerArgs, startMlflowServer } from "../_mlflow_server.ts";
import { pyRuns } from "./_py_dump.ts";
import { checkpointBytes, epochMetrics, feedEpochs, simJob, writeMetricsCsv } from "./_sim.ts";
import { startRunTracking } from "../../src/jobs/run_tracking_deno.ts";
import { main as mlflowSync } from "../../cli/mlflow_sync.ts";

const noMlflow = await skipUnlessPython("mlflow");

async function sha256(bytes: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

function pyValue(v: number): number | string {
  return Number.isNaN(v) ? "nan" : v;
}

const KEYS = ["train_loss", "val_loss", "val_macro_f1", "lr", "val_cost", "epoch_seconds"] as const;

Deno.test({
  name:
    "run logger survives a server stop and restart mid-run; a run that ends offline is synced from its spool",
  ignore: noMlflow,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "mlflow_fault_" });
    const server = await startMlflowServer(sqliteServerArgs(dir), {
      logFile: `${dir}/server.log`,
    });
    try {
      const retry = { maxRetries: 1, baseDelayMs: 50, jitterMs: 10, maxDelayMs: 200 };
      const warningsA: string[] = [];
      const configA = await simJob(dir, {
        mlflowTrackingUri: server.uri,
        mlflowExperiment: "fault",
        outputDir: `${dir}/outA`,
        mlflowRunName: "survivor",
      });
      const a = await startRunTracking(configA, {
        windowSize: 128,
        env: { USER: "tester" },
        log: (l) => warningsA.push(l),
        retry,
        endTimeoutMs: 60_000,
      });
      const configB = {
        ...configA,
        run: { ...configA.run, outputDir: `${dir}/outB`, mlflowRunName: "ends-offline" },
      };
      const b = await startRunTracking(configB, {
        windowSize: 128,
        env: { USER: "tester" },
        log: () => {},
        retry,
        endTimeoutMs: 1_000,
      });
      await feedEpochs(a.hooks, [1, 2]);
      await feedEpochs(b.hooks, [1]);
      assert.equal(await a.logger.flush(), true);

      await server.stop();
      const tDown = performance.now();
      // While the server is down, hooks still return at once; the data goes to the spool.
      const offlineHookMs = await feedEpochs(a.hooks, [3, 4]);
      await feedEpochs(b.hooks, [2]);
      assert.equal(await a.logger.flush(), false);
      const spooled = a.logger.summary().spooled;
      const spoolFiles = [...Deno.readDirSync(a.spoolDir)].map((e) => e.name).sort();
      assert.deepEqual(spoolFiles, ["files", "records.jsonl", "spool.json"]);
      // Run B ends while the server is down: its end is spooled on disk.
      await writeMetricsCsv(configB.run.outputDir, [1, 2]);
      await b.hooks.onEnd?.({ status: "FAILED", bestValF1: 0 });
      const summaryB = await b.ended;
      assert.ok(summaryB.spooled > 0);

      await server.restart();
      const downSeconds = (performance.now() - tDown) / 1000;
      await feedEpochs(a.hooks, [5]);
      const csvA = await writeMetricsCsv(configA.run.outputDir, [1, 2, 3, 4, 5]);
      await a.hooks.onEnd?.({ status: "FINISHED", bestValF1: 0.425 });
      const summaryA = await a.ended;
      console.log(
        `fault test: server down ${downSeconds.toFixed(1)} s (restart took ${
          server.startSeconds.toFixed(1)
        } s); ` +
          `hooks while down ${offlineHookMs.map((m) => m.toFixed(1)).join(", ")} ms per epoch; ` +
          `${spooled} records spooled mid-run; run A summary ${JSON.stringify(summaryA)}; ` +
          `run B left ${summaryB.spooled} records in its spool`,
      );
      assert.equal(summaryA.spooled, 0);
      assert.ok(summaryA.failures >= 1);
      await assert.rejects(() => Deno.stat(a.spoolDir), Deno.errors.NotFound);

      // Run B: the spool is uploaded later by mlflow-sync.
      const lines: string[] = [];
      assert.equal(
        await mlflowSync(
          ["--spool", `${configB.run.outputDir}/mlflow_spool`, "--to", server.uri],
          {},
          (l) => lines.push(l),
        ),
        0,
      );

      const runs = await pyRuns(server.uri, "fault");
      const ra = runs.find((r) => r.id === a.runId)!;
      assert.equal(ra.status, "FINISHED");
      for (const key of KEYS) {
        assert.deepEqual(
          ra.history[key].map(([step, value]) => [step, value]),
          [1, 2, 3, 4, 5].map((e) => [e, pyValue(epochMetrics(e)[key]!)]),
          key,
        );
      }
      assert.deepEqual(ra.artifacts, {
        "metrics.csv": await sha256(new TextEncoder().encode(csvA)),
        "feature_stats.json": await sha256(await Deno.readFile(configA.run.featureStats)),
        "checkpoints/last/model.safetensors": await sha256(checkpointBytes("last", 5)),
        "checkpoints/last/meta.json": await sha256(new TextEncoder().encode(`{"epoch":5}`)),
        "checkpoints/best/model.safetensors": await sha256(checkpointBytes("best", 5)),
        "checkpoints/best/meta.json": await sha256(new TextEncoder().encode(`{"epoch":5}`)),
      });
      const rb = runs.find((r) => r.id === b.runId)!;
      assert.equal(rb.status, "FAILED");
      assert.deepEqual(rb.history.val_macro_f1.map(([s]) => s), [1, 2]);
      assert.deepEqual(Object.keys(rb.artifacts).sort(), [
        "checkpoints/best/meta.json",
        "checkpoints/best/model.safetensors",
        "checkpoints/last/meta.json",
        "checkpoints/last/model.safetensors",
        "feature_stats.json",
        "metrics.csv",
      ]);
      assert.equal(
        rb.artifacts["checkpoints/last/model.safetensors"],
        await sha256(checkpointBytes("last", 2)),
      );
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
