import assert from "#assert";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import { capture } from "./_capture.ts";
import { sqliteServerArgs, startMlflowServer } from "../_mlflow_server.ts";
import { main as evaluateMain } from "../../cli/evaluate.ts";
import { main as promoteMain } from "../../cli/promote.ts";
import { main as runsMain } from "../../cli/runs.ts";
import { promoteRun } from "../../src/jobs/promote_job.ts";
import { RestStore } from "../../src/tracking/rest_store.ts";

const ignore = await skipUnlessPython("numpy", "mlflow");

const MAKE_RUNS = `
import json, os, sys, warnings
warnings.simplefilter("ignore")
import numpy as np
from mlflow import MlflowClient
# mlflow prints "View run ..." lines on stdout: keep stdout for the JSON answer.
out, sys.stdout = sys.stdout, sys.stderr
uri, root = sys.argv[1], sys.argv[2]
c = MlflowClient(tracking_uri=uri)
exp = c.create_experiment("component-x-lstm")
runs = {}
for name, hist in {"s-good": [0.2, 0.33], "s-worse": [0.3]}.items():
    r = c.create_run(exp, run_name=name)
    for step, v in enumerate(hist, start=1):
        c.log_metric(r.info.run_id, "val_macro_f1", v, step=step)
    c.log_param(r.info.run_id, "hidden_size", "32" if name == "s-good" else "16")
    ck = os.path.join(root, "ck", name); os.makedirs(ck)
    with open(os.path.join(ck, "state.json"), "w") as f:
        json.dump({"run": name}, f)
    c.log_artifacts(r.info.run_id, ck, artifact_path="checkpoints/best")
    c.set_terminated(r.info.run_id)
    runs[name] = r.info.run_id
rng = np.random.default_rng(9)
y = rng.choice(5, size=200, p=[0.8, 0.05, 0.05, 0.05, 0.05])
logits = rng.normal(size=(200, 5)); logits[np.arange(200), y] += 2.0
P = np.exp(logits); P /= P.sum(axis=1, keepdims=True)
with open(os.path.join(root, "val_sequences.csv"), "w") as f:
    f.write("vehicle_id,label,pred,p0,p1,p2,p3,p4\\n")
    for i in range(200):
        f.write(",".join([str(i), str(y[i]), str(P[i].argmax())] + [repr(float(v)) for v in P[i]]) + "\\n")
print(json.dumps(runs), file=out)
`;

const READ = `
import json, sys, warnings
warnings.simplefilter("ignore")
from mlflow import MlflowClient
c = MlflowClient(tracking_uri=sys.argv[1], registry_uri=sys.argv[1])
mv = c.get_model_version_by_alias("component-x-lstm", "champion")
run = c.get_run(mv.run_id)
print(json.dumps({"version": str(mv.version), "run_id": mv.run_id, "tags": mv.tags,
  "eval_macro_f1": run.data.metrics.get("eval_macro_f1"),
  "artifacts": sorted(a.path for a in c.list_artifacts(mv.run_id, "evaluations/val_sequences"))}))
`;

Deno.test({
  name: "promote against a real mlflow server: worse refused, better aliased, bundle via the proxy",
  ignore,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "promote_server_test_" });
    const server = await startMlflowServer(sqliteServerArgs(dir), {
      logFile: `${dir}/mlflow-server.log`,
      timeoutMs: 90_000,
    });
    try {
      const runs = await pythonJson<Record<string, string>>(MAKE_RUNS, { args: [server.uri, dir] });
      const common = ["--mlflow-tracking-uri", server.uri];
      await t.step("evaluate uploads the bundle through the artifact proxy", async () => {
        for (const name of ["s-good", "s-worse"]) {
          const r = await capture(() =>
            evaluateMain([
              "--predictions",
              `${dir}/val_sequences.csv`,
              "--output-dir",
              `${dir}/bundle-${name}`,
              "--mlflow-run-id",
              runs[name],
              ...common,
            ])
          );
          assert.equal(r.code, 0, r.out);
        }
      });
      await t.step("the better run is promoted", async () => {
        const r = await capture(() =>
          promoteMain([
            "--run-name",
            "s-good",
            "--inspected",
            "--user",
            "ci",
            "--reason",
            "server test",
            "--artifacts-dir",
            `${dir}/artifacts`,
            ...common,
          ])
        );
        assert.equal(r.code, 0, r.out);
        assert.match(r.out, /version 1 is now "champion"/);
        assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/artifacts/best/state.json`)), {
          run: "s-good",
        });
      });
      await t.step("the worse run is refused with the numbers", async () => {
        const r = await capture(() =>
          promoteMain([
            "--run-id",
            runs["s-worse"],
            "--inspected",
            "--artifacts-dir",
            `${dir}/artifacts`,
            ...common,
          ])
        );
        assert.equal(r.code, 2, r.out);
        assert.match(r.out, /candidate 0\.3000 <= champion s-good \(version 1\) 0\.3300/);
      });
      await t.step(
        "python's MlflowClient sees the alias, tags, eval metrics and bundle",
        async () => {
          const reg = await pythonJson<{
            version: string;
            run_id: string;
            tags: Record<string, string>;
            eval_macro_f1: number | null;
            artifacts: string[];
          }>(READ, { args: [server.uri] });
          assert.equal(reg.version, "1");
          assert.equal(reg.run_id, runs["s-good"]);
          assert.equal(reg.tags.promoted_by, "ci");
          assert.equal(reg.tags.promotion_reason, "server test");
          assert.equal(typeof reg.eval_macro_f1, "number");
          assert.ok(reg.artifacts.includes("evaluations/val_sequences/summary_metrics.json"));
        },
      );
      await t.step(
        "the inspection prompt names the server's artifact as one, with a command that downloads it",
        async () => {
          let where = "";
          const outcome = await promoteRun(new RestStore({ uri: server.uri }), {
            run: { runId: runs["s-worse"] },
            experiment: "component-x-lstm",
            registry: { model: "component-x-lstm", alias: "champion" },
            inspected: false,
            reason: "",
            user: "ci",
            checkpointArtifact: "",
          }, {
            confirmInspected: (w) => {
              where = w;
              return false;
            },
            installCheckpoint: () => Promise.reject(new Error("not reached")),
          });
          assert.equal(outcome.promoted, false);
          assert.match(
            where,
            new RegExp(
              `^artifact evaluations/val_sequences/index\\.html of run ${
                runs["s-worse"]
              } at ${server.uri} \\(not on this disk`,
            ),
          );
          const command = /download it with (.*) --dst-path <dir>\)$/.exec(where)![1];
          const out = await new Deno.Command("sh", {
            args: ["-c", `${command} --dst-path "$1"`, "sh", `${dir}/downloaded`],
            stdout: "null",
            stderr: "piped",
          }).output();
          assert.ok(out.success, new TextDecoder().decode(out.stderr));
          const html = await Deno.readTextFile(`${dir}/downloaded/val_sequences/index.html`);
          assert.match(html, /<html/i);
        },
      );
      await t.step("runs lists the server's runs with the champion", async () => {
        const r = await capture(() => runsMain(["--json", ...common]));
        assert.equal(r.code, 0, r.out);
        const rows = JSON.parse(r.out) as { runName: string; promoted: string }[];
        assert.deepEqual(rows.map((x) => [x.runName, x.promoted]), [["s-good", "champion"], [
          "s-worse",
          "",
        ]]);
      });
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
