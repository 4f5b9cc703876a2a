/**
 * Tracking URIs as every command reads them (issue 11, item 6), through real child
 * processes run in a scratch working directory: `file:./x` is relative to it (as in
 * MLflow) for train, evaluate, promote and runs; `databricks`, `host:port` and a bare host
 * name are errors naming the accepted forms and create nothing; a read-only command given
 * a mistyped folder says so and creates nothing.
 */
import assert from "#assert";
import { skipUnlessPython } from "../_python.ts";
import { exists, runCli, tinyTrainArgs, writeTinyData } from "./_train_cli.ts";

const ignore = await skipUnlessPython("numpy");

Deno.test({
  name:
    "every command reads file:./x relative to the working directory and refuses databricks, host:port and host names",
  ignore,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "uri_cli_" });
    const cwd = `${dir}/work`;
    await Deno.mkdir(cwd);
    try {
      const data = await writeTinyData(dir);
      const inCwd = (command: string, args: string[]) => runCli(command, args, { cwd });
      let runId = "";
      await t.step("train --mlflow-tracking-uri file:./x writes ./x, not /x", async () => {
        const hadRoot = await exists("/x");
        const r = await inCwd("train", [
          ...tinyTrainArgs(data, `${dir}/out`),
          "--epochs",
          "1",
          "--mlflow",
          "--mlflow-tracking-uri",
          "file:./x",
        ]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(
          r.stdout,
          new RegExp(
            `MLflow: run l8-run1 \\([0-9a-f]{32}\\) in experiment component-x-lstm at ${cwd}/x\n`,
          ),
        );
        assert.ok(await exists(`${cwd}/x/0/meta.yaml`));
        assert.equal(await exists("/x"), hadRoot, "nothing at the filesystem root");
        runId = JSON.parse(await Deno.readTextFile(`${dir}/out/last/state.json`)).run.runId;
      });
      await t.step("evaluate, promote and runs read the same ./x", async () => {
        const evaluate = await inCwd("evaluate", [
          "--checkpoint",
          `${dir}/out/best`,
          "--npz",
          data.val,
          "--output-dir",
          `${dir}/bundle`,
          "--device",
          "cpu",
          "--mlflow-run-id",
          runId,
          "--mlflow-tracking-uri",
          "file:./x",
        ]);
        assert.equal(evaluate.code, 0, evaluate.stderr);
        assert.match(evaluate.stdout, new RegExp(`of run l8-run1 \\(${runId}\\) .*\\(${cwd}/x\\)`));
        const promote = await inCwd("promote", [
          "--run-id",
          runId,
          "--inspected",
          "--artifacts-dir",
          `${dir}/promoted`,
          "--mlflow-tracking-uri",
          "file:./x",
        ]);
        assert.ok([0, 2].includes(promote.code), promote.stderr);
        assert.match(promote.stdout, new RegExp(`Run l8-run1 \\(${runId}\\) in ${cwd}/x`));
        const runs = await inCwd("runs", ["--mlflow-tracking-uri", "file:./x", "--json"]);
        assert.equal(runs.code, 0, runs.stderr);
        assert.deepEqual(JSON.parse(runs.stdout).map((r: { runId: string }) => r.runId), [runId]);
      });
      for (
        const [uri, message] of [
          ["databricks", /"databricks": Databricks is not supported; expected http\(s\):\/\//],
          [
            "127.0.0.1:5000",
            /looks like host:port without a scheme; pass http:\/\/127\.0\.0\.1:5000/,
          ],
          [
            "mlflow.example.com",
            /looks like a host name; for a tracking server pass http:\/\/mlflow\.example\.com/,
          ],
        ] as const
      ) {
        await t.step(`${uri}: an error in every command, no folder made`, async () => {
          const commands: [string, string[]][] = [
            ["train", [
              ...tinyTrainArgs(data, `${dir}/bad_out`),
              "--mlflow",
              "--mlflow-tracking-uri",
              uri,
            ]],
            ["evaluate", [
              "--checkpoint",
              `${dir}/out/best`,
              "--npz",
              data.val,
              "--output-dir",
              `${dir}/bad_bundle`,
              "--mlflow-run-id",
              runId,
              "--mlflow-tracking-uri",
              uri,
            ]],
            ["promote", ["--run-id", runId, "--mlflow-tracking-uri", uri]],
            ["runs", ["--mlflow-tracking-uri", uri]],
          ];
          for (const [command, args] of commands) {
            const r = await inCwd(command, args);
            assert.equal(r.code, 1, `${command}: ${r.stdout}`);
            assert.match(r.stderr, message, command);
          }
          assert.deepEqual([...Deno.readDirSync(cwd)].map((e) => e.name), ["x"]);
          assert.ok(!(await exists(`${dir}/bad_out`)) && !(await exists(`${dir}/bad_bundle`)));
        });
      }
      await t.step("a mistyped folder: read-only commands say so and create nothing", async () => {
        const commands: [string, string[]][] = [
          ["runs", ["--mlflow-tracking-uri", "./xx"]],
          ["promote", ["--run-id", runId, "--mlflow-tracking-uri", "./xx"]],
          ["evaluate", [
            "--checkpoint",
            `${dir}/out/best`,
            "--npz",
            data.val,
            "--output-dir",
            `${dir}/bad_bundle`,
            "--mlflow-run-id",
            runId,
            "--mlflow-tracking-uri",
            "./xx",
          ]],
          ["mlflow_sync", ["--from", "./xx", "--to", "http://127.0.0.1:9"]],
        ];
        for (const [command, args] of commands) {
          const r = await inCwd(command, args);
          assert.equal(r.code, 1, `${command}: ${r.stdout}`);
          assert.match(
            r.stderr,
            new RegExp(`Cannot read the MLflow store at ${cwd}/xx: the folder does not exist`),
            command,
          );
        }
        assert.deepEqual([...Deno.readDirSync(cwd)].map((e) => e.name), ["x"]);
        assert.ok(!(await exists(`${dir}/bad_bundle`)));
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
