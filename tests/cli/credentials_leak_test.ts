/**
 * Credentials never leave the credential channel (issue 12, item 3): a password planted in
 * `MLFLOW_TRACKING_PASSWORD` for a real `mlflow server --app-name basic-auth` is used by
 * train, evaluate, promote, runs and mlflow-sync (they succeed), and afterwards neither
 * their stdout/stderr, nor any file under the test folder (outputs, checkpoints, spools,
 * bundles, the local mlruns, the server's artifact store, its backend database and its
 * auth database) holds the password or the `Authorization` value. A password given inside
 * the URI is refused by every command, without echoing it, before anything is written or
 * sent.
 */
import assert from "#assert";
import { skipUnlessPython } from "../_python.ts";
import { basicAuthServer, startMlflowServer } from "../_mlflow_server.ts";
import { type CliResult, runCli, tinyTrainArgs, writeTinyData } from "./_train_cli.ts";

const ignore = await skipUnlessPython("numpy", "mlflow", "flask_wtf");

/** Every file under `dir`, recursively (symlinks not followed). */
async function* files(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) yield* files(path);
    else if (e.isFile) yield path;
  }
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

Deno.test({
  name:
    "a planted MLFLOW_TRACKING_PASSWORD appears in no output, file, artifact or database; a password in the URI is refused unechoed",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "cred_leak_" });
    const setup = await basicAuthServer(dir);
    const server = await startMlflowServer(setup.args, {
      logFile: `${dir}/mlflow-server.log`,
      env: setup.env,
    });
    const { username, password } = setup.admin;
    const secrets = [password, btoa(`${username}:${password}`), encodeURIComponent(password)];
    const env: Record<string, string> = {
      MLFLOW_TRACKING_USERNAME: username,
      MLFLOW_TRACKING_PASSWORD: password,
    };
    const outputs: { what: string; result: CliResult }[] = [];
    const run = async (what: string, command: string, args: string[], e = env) => {
      const result = await runCli(command, args, { env: e });
      outputs.push({ what, result });
      return result;
    };
    try {
      const data = await writeTinyData(dir);
      await t.step("every command works with the planted credentials", async () => {
        const train = await run("train", "train", [
          ...tinyTrainArgs(data, `${dir}/out`),
          "--epochs",
          "2",
          "--mlflow",
          "--mlflow-tracking-uri",
          server.uri,
          "--mlflow-run-name",
          "leak-check",
        ]);
        assert.equal(train.code, 0, train.stderr);
        const evaluate = await run("evaluate", "evaluate", [
          "--checkpoint",
          `${dir}/out/best`,
          "--npz",
          data.val,
          "--output-dir",
          `${dir}/bundle`,
          "--device",
          "cpu",
          "--mlflow-run-id",
          "leak-check",
          "--mlflow-tracking-uri",
          server.uri,
        ]);
        assert.equal(evaluate.code, 0, evaluate.stderr);
        const promote = await run("promote", "promote", [
          "--run-name",
          "leak-check",
          "--inspected",
          "--artifacts-dir",
          `${dir}/promoted`,
          "--mlflow-tracking-uri",
          server.uri,
        ]);
        assert.ok(promote.code === 0 || promote.code === 2, promote.stderr);
        const runs = await run("runs", "runs", ["--mlflow-tracking-uri", server.uri]);
        assert.equal(runs.code, 0, runs.stderr);
        const local = await run("train (local)", "train", [
          ...tinyTrainArgs(data, `${dir}/local_out`),
          "--epochs",
          "1",
          "--mlflow",
          "--mlflow-tracking-uri",
          `${dir}/mlruns`,
        ], {});
        assert.equal(local.code, 0, local.stderr);
        const sync = await run("mlflow-sync", "mlflow_sync", [
          "--from",
          `${dir}/mlruns`,
          "--to",
          server.uri,
        ]);
        assert.equal(sync.code, 0, sync.stderr + sync.stdout);
      });

      await t.step("a password inside the URI is refused by every command, unechoed", async () => {
        const withPassword = server.uri.replace("http://", `http://${username}:${password}@`);
        const refused: [string, string, string[], Record<string, string>][] = [
          ["train", "train", [
            ...tinyTrainArgs(data, `${dir}/uri_out`),
            "--mlflow",
            "--mlflow-tracking-uri",
            withPassword,
          ], {}],
          ["train (env)", "train", [...tinyTrainArgs(data, `${dir}/uri_out`), "--mlflow"], {
            MLFLOW_TRACKING_URI: withPassword,
          }],
          ["evaluate", "evaluate", [
            "--checkpoint",
            `${dir}/out/best`,
            "--npz",
            data.val,
            "--output-dir",
            `${dir}/uri_bundle`,
            "--mlflow-run-id",
            "leak-check",
            "--mlflow-tracking-uri",
            withPassword,
          ], {}],
          ["promote", "promote", [
            "--run-name",
            "leak-check",
            "--inspected",
            "--artifacts-dir",
            `${dir}/uri_promoted`,
            "--mlflow-tracking-uri",
            withPassword,
          ], {}],
          ["runs", "runs", ["--mlflow-tracking-uri", withPassword], {}],
          ["runs (env)", "runs", [], { MLFLOW_TRACKING_URI: withPassword }],
          ["mlflow-sync", "mlflow_sync", ["--from", `${dir}/mlruns`, "--to", withPassword], {}],
        ];
        for (const [what, command, args, e] of refused) {
          const r = await run(`${what} with the password in the URI`, command, args, e);
          assert.equal(r.code, 1, `${what}: ${r.stdout}${r.stderr}`);
          assert.match(
            r.stderr,
            /credentials in the URI are refused .*MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD/,
            what,
          );
        }
        for (const folder of ["uri_out", "uri_bundle", "uri_promoted"]) {
          await assert.rejects(() => Deno.stat(`${dir}/${folder}`), Deno.errors.NotFound);
        }
      });

      await t.step("no output holds the password or the Authorization value", () => {
        for (const { what, result } of outputs) {
          for (const secret of secrets) {
            assert.ok(!result.stdout.includes(secret), `${what} stdout`);
            assert.ok(!result.stderr.includes(secret), `${what} stderr`);
          }
        }
      });

      await server.stop();
      await t.step(
        "no file under the test folder holds it (outputs, stores, databases)",
        async () => {
          const needles = secrets.map((s) => new TextEncoder().encode(s));
          const checked: string[] = [];
          for await (const path of files(dir)) {
            const bytes = await Deno.readFile(path);
            checked.push(path.slice(dir.length + 1));
            for (const needle of needles) {
              assert.equal(indexOf(bytes, needle), -1, `${path} holds a secret`);
            }
          }
          // The walk did reach what matters.
          for (
            const want of [
              /^mlflow\.db$/,
              /^basic_auth\.db$/,
              /^server-artifacts\/.*\/checkpoints\/best\/state\.json$/,
              /^server-artifacts\/.*\/evaluations\/val\/index\.html$/,
              /^out\/last\/state\.json$/,
              /^bundle\/index\.html$/,
              /^mlruns\/.*\/params\/mlflow_tracking_uri$/,
            ]
          ) {
            assert.ok(
              checked.some((p) => want.test(p)),
              `${want} not among ${checked.length} files`,
            );
          }
          console.log(`${checked.length} files checked, none holds the password`);
        },
      );
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
