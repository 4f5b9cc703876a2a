/**
 * End to end with a real `mlflow server --app-name basic-auth`: the page logs its run through
 * the demo server's same-origin proxy (its token, the allow-list, the server-side
 * credentials), and python's MlflowClient reads back what arrived.
 */
import assert from "#assert";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import { basicAuthServer, startMlflowServer } from "../_mlflow_server.ts";
import { startDemoServer } from "../../web/server_deno.ts";
import {
  type BrowserSession,
  openBrowser,
  skipUnlessChromium,
  waitForTrainingEnd,
} from "./_browser.ts";

const ignore = (await skipUnlessChromium()) || (await skipUnlessPython("mlflow", "flask_wtf"));

const READ_RUN = `
import json, sys, warnings
warnings.simplefilter("ignore")
from mlflow import MlflowClient
out, sys.stdout = sys.stdout, sys.stderr
uri, run_id = sys.argv[1], sys.argv[2]
c = MlflowClient(tracking_uri=uri)
r = c.get_run(run_id)
exp = c.get_experiment(r.info.experiment_id)
def walk(path):
    names = []
    for a in c.list_artifacts(run_id, path):
        names += walk(a.path) if a.is_dir else [a.path]
    return names
hist = {k: [[m.step, m.value] for m in c.get_metric_history(run_id, k)]
        for k in ("train_loss", "val_macro_f1")}
json.dump({"status": r.info.status, "experiment": exp.name, "run_name": r.info.run_name,
           "params": r.data.params, "tags": r.data.tags, "history": hist,
           "artifacts": sorted(walk(""))}, out)
`;

interface RunReadBack {
  status: string;
  experiment: string;
  run_name: string;
  params: Record<string, string>;
  tags: Record<string, string>;
  history: Record<string, [number, number][]>;
  artifacts: string[];
}

Deno.test({
  name: "demo page logs its run to a real basic-auth MLflow server through the same-origin proxy",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "demo-mlflow-e2e-" });
    const setup = await basicAuthServer(dir);
    const mlflow = await startMlflowServer(setup.args, {
      logFile: `${dir}/mlflow-server.log`,
      env: setup.env,
    });
    const { username, password } = setup.admin;
    const server = await startDemoServer({
      port: 0,
      mlflowTrackingUri: mlflow.uri,
      mlflowAuthorization: `Basic ${btoa(`${username}:${password}`)}`,
    });
    let browser: BrowserSession | null = null;
    let passed = false;
    try {
      browser = await openBrowser(dir);
      const page = browser.page;
      await page.goto(server.url);
      await page.waitForFunction(() =>
        (document.getElementById("log")?.textContent ?? "").includes("tfjs")
      );
      assert.match(
        (await page.textContent("#mlflow-note")) ?? "",
        /through this server's \/mlflow/,
      );
      await page.fill("#sample-train-rows", "48");
      await page.fill("#sample-val-rows", "24");
      await page.fill("#sample-steps", "8");
      await page.click("#generate-sample");
      await page.waitForSelector("#summary-table");
      const params = { hiddenSize: "8", numLayers: "1", epochs: "2", batchSize: "16", lr: "0.01" };
      for (const [name, value] of Object.entries(params)) await page.fill(`[name=${name}]`, value);
      await page.fill("[name=mlflowExperiment]", "demo-e2e");
      await page.check("[name=mlflow]");
      await page.selectOption("[name=device]", "wasm");
      await page.click("#train");
      const state = await waitForTrainingEnd<{
        error: string | null;
        epochs: { epoch: number; train_loss: number; val_macro_f1: number }[];
        mlflow: { runId: string; runName: string; sent: number; spooled: number } | null;
      }>(page, { timeout: 300_000 });
      assert.equal(state.error, null, `page error: ${state.error}`);
      assert.ok(state.mlflow, "the page started no MLflow run");
      const ml = state.mlflow!;
      assert.equal(ml.spooled, 0, "records were left unsent");
      assert.ok(ml.sent > 0);

      const run = await pythonJson(READ_RUN, {
        args: [mlflow.uri, ml.runId],
        env: { MLFLOW_TRACKING_USERNAME: username, MLFLOW_TRACKING_PASSWORD: password },
      }) as RunReadBack;
      assert.equal(run.status, "FINISHED");
      assert.equal(run.experiment, "demo-e2e");
      assert.equal(run.run_name, ml.runName);
      assert.equal(run.params.hidden_size, "8");
      assert.equal(run.params.epochs, "2");
      assert.equal(run.params.mlflow, "True", "Python's str(), as the pipeline logged it");
      assert.equal(run.tags["runtime.backend"], "wasm");
      assert.equal(run.tags["mlflow.source.name"], "web/app.ts");
      assert.deepEqual(
        run.history.train_loss.map(([step]) => step),
        state.epochs.map((m) => m.epoch),
      );
      run.history.train_loss.forEach(([, value], i) => {
        assert.ok(Math.abs(value - state.epochs[i].train_loss) < 1e-9, `train_loss step ${i + 1}`);
      });
      for (const path of ["metrics.csv", "feature_stats.json", "checkpoints/best/state.json"]) {
        assert.ok(run.artifacts.includes(path), `missing artifact ${path}: ${run.artifacts}`);
      }
      // Nothing credential-like or proxy-internal leaked into the run.
      assert.ok(!JSON.stringify(run.params).includes(mlflow.uri));
      const token = new URL(server.url).searchParams.get("token")!;
      for (const secret of [password, token]) assert.ok(!JSON.stringify(run).includes(secret));
      passed = true;
    } finally {
      if (!passed && browser) {
        console.error(`--- page console ---\n${browser.console.join("\n")}\n--- end ---`);
      }
      await browser?.close();
      await server.close();
      await mlflow.stop();
    }
  },
});
