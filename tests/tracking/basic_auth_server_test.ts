/**
 * The tracking client against a real `mlflow server --app-name basic-auth`, and against a
 * second loopback listener standing in for another host: credentials go only to the
 * configured server (never along a redirect, never to the host a spool names), a 401 says
 * whether credentials were missing or rejected, and `mlflow-sync --spool` reads only files
 * inside the spool's own folder.
 */
import assert from "#assert";
import { skipUnlessPython } from "../_python.ts";
import { basicAuthServer, startMlflowServer } from "../_mlflow_server.ts";
import { credentialsFromEnv } from "../../src/tracking/rest_transport.ts";
import { main as mlflowSync } from "../../cli/mlflow_sync.ts";
import { MlflowRequestError } from "../../src/tracking/mlflow_request_error.ts";
import { RestStore } from "../../src/tracking/rest_store.ts";

const ignore = await skipUnlessPython("mlflow", "flask_wtf");

/** A loopback listener that records every request (the "other host"). */
function otherHost(answer: (req: Request) => Response = () => new Response("{}")) {
  const seen: { path: string; authorization: string | null; body: string }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    seen.push({
      path: url.pathname + url.search,
      authorization: req.headers.get("authorization"),
      body: await req.text(),
    });
    return answer(req);
  });
  return { seen, uri: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
}

async function withServer(
  fn: (ctx: {
    uri: string;
    env: Record<string, string>;
    admin: (method: string, path: string, body?: unknown) => Promise<Record<string, unknown>>;
    dir: string;
  }) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "basic-auth-" });
  const setup = await basicAuthServer(dir);
  const server = await startMlflowServer(setup.args, {
    logFile: `${dir}/mlflow-server.log`,
    env: setup.env,
  });
  const env = {
    MLFLOW_TRACKING_USERNAME: setup.admin.username,
    MLFLOW_TRACKING_PASSWORD: setup.admin.password,
  };
  const authorization = `Basic ${btoa(`${setup.admin.username}:${setup.admin.password}`)}`;
  const admin = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${server.uri}/api/2.0/mlflow/${path}`, {
      method,
      headers: { authorization, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await response.json();
    if (!response.ok) {
      throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
    }
    return json;
  };
  try {
    await fn({ uri: server.uri, env, admin, dir });
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name:
    "RestStore and a basic-auth MLflow server: a 401 says whether credentials are missing or rejected; a redirect is never followed",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await withServer(async ({ uri, env }) => {
      const store = (vars: Record<string, string>) =>
        new RestStore({ uri, credentials: credentialsFromEnv(vars), retry: { maxRetries: 0 } });
      const rejects401 = async (vars: Record<string, string>, hint: RegExp) => {
        await assert.rejects(() => store(vars).createExperiment("x"), (e: Error) => {
          assert.ok(e instanceof MlflowRequestError && e.status === 401, String(e));
          assert.match(e.message, hint);
          for (const secret of Object.values(vars)) assert.ok(!e.message.includes(secret));
          return true;
        });
      };
      await t.step("no credentials: set them", async () => {
        await rejects401(
          {},
          /HTTP 401 .*; set MLFLOW_TRACKING_USERNAME\/PASSWORD or MLFLOW_TRACKING_TOKEN$/,
        );
      });
      await t.step("wrong password: rejected", async () => {
        await rejects401(
          { MLFLOW_TRACKING_USERNAME: "admin", MLFLOW_TRACKING_PASSWORD: "wrong-password-42" },
          /HTTP 401 .*; the server rejected the credentials from MLFLOW_TRACKING_USERNAME\/PASSWORD: check them$/,
        );
      });
      await t.step("wrong token: rejected", async () => {
        await rejects401(
          { MLFLOW_TRACKING_TOKEN: "wrong-token-42" },
          /HTTP 401 .*; the server rejected the credentials from MLFLOW_TRACKING_TOKEN: check them$/,
        );
      });
      await t.step("right credentials: accepted (the control)", async () => {
        assert.match(await store(env).createExperiment("auth-ok"), /^\d+$/);
      });
      await t.step("a redirect to another host is refused; that host sees nothing", async () => {
        const other = otherHost();
        const redirector = otherHost((req) =>
          new Response(null, {
            status: 307,
            headers: { location: `${other.uri}${new URL(req.url).pathname}` },
          })
        );
        try {
          const s = new RestStore({
            uri: redirector.uri,
            credentials: credentialsFromEnv(env),
            retry: { maxRetries: 0 },
          });
          await assert.rejects(() => s.createExperiment("x"), (e: Error) => {
            assert.ok(e instanceof MlflowRequestError, String(e));
            assert.equal((e as MlflowRequestError).errorCode, "REDIRECT_REFUSED");
            assert.equal((e as MlflowRequestError).status, 307);
            assert.match(
              e.message,
              new RegExp(
                `^Cannot create experiment "x" at ${redirector.uri}: the server redirects ` +
                  `\\(HTTP 307\\) to ${other.uri}; credentials and data are sent only to the ` +
                  "configured tracking URI",
              ),
            );
            return true;
          });
          assert.equal(redirector.seen.length, 1);
          assert.deepEqual(other.seen, []);
        } finally {
          await other.close();
          await redirector.close();
        }
      });
    });
  },
});

Deno.test({
  name:
    "mlflow-sync --spool treats the spool as data: files outside its folder and a foreign trackingUri are refused; nothing is sent",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await withServer(async ({ uri, env, admin, dir }) => {
      const experimentId = String(
        (await admin("POST", "experiments/create", { name: "sp" }))
          .experiment_id,
      );
      const runId = ((await admin("POST", "runs/create", {
        experiment_id: experimentId,
        start_time: 1,
      })).run as { info: { run_id: string } }).info.run_id;
      const runState = async () => {
        const { run } = await admin("GET", `runs/get?run_id=${runId}`) as {
          run: { info: { status: string }; data: { metrics?: unknown[] } };
        };
        const { files } = await admin("GET", `artifacts/list?run_id=${runId}`) as {
          files?: { path: string }[];
        };
        return {
          status: run.info.status,
          metrics: run.data.metrics?.length ?? 0,
          artifacts: (files ?? []).map((f) => f.path),
        };
      };
      const untouched = { status: "RUNNING", metrics: 0, artifacts: [] };
      assert.deepEqual(await runState(), untouched);

      const spoolDir = `${dir}/out/mlflow_spool/${runId}`;
      /** Writes a spool whose artifact record names `file`, written for `trackingUri`. */
      const writeSpool = async (file: string, trackingUri = uri) => {
        await Deno.remove(spoolDir, { recursive: true }).catch(() => {});
        await Deno.mkdir(`${spoolDir}/files`, { recursive: true });
        await Deno.writeTextFile(`${spoolDir}/files/0`, "metrics,csv\n");
        await Deno.writeTextFile(
          `${spoolDir}/spool.json`,
          JSON.stringify({ trackingUri, runId, experimentId }),
        );
        const records = [
          { kind: "batch", batch: { metrics: [{ key: "loss", value: 1, timestamp: 1, step: 1 }] } },
          { kind: "artifact", path: "stolen.txt", file },
          { kind: "update", status: "FINISHED", endTime: 2 },
        ];
        await Deno.writeTextFile(
          `${spoolDir}/records.jsonl`,
          records.map((r) => JSON.stringify(r) + "\n").join(""),
        );
      };
      const sync = (args: string[], vars: Record<string, string> = env) =>
        mlflowSync(["--spool", `${dir}/out/mlflow_spool`, ...args], vars, () => {});
      const refused = async (args: string[], message: RegExp, vars?: Record<string, string>) => {
        await assert.rejects(() => sync(args, vars), (e: Error) => {
          assert.match(e.message, message);
          assert.ok(!e.message.includes(env.MLFLOW_TRACKING_PASSWORD));
          return true;
        });
        assert.deepEqual(await runState(), untouched);
        await Deno.stat(`${spoolDir}/records.jsonl`); // the spool is kept as it was
      };

      await t.step("a record naming ../../etc/hostname", async () => {
        await writeSpool("../../../../../../../../etc/hostname");
        await refused(
          ["--to", uri],
          /^Cannot read spool file "(\.\.\/){8}etc\/hostname" of .*: an absolute path or one with \.\.; a spool may only name files inside its own folder$/,
        );
      });
      await t.step("a record naming /etc/hostname", async () => {
        await writeSpool("/etc/hostname");
        await refused(["--to", uri], /^Cannot read spool file "\/etc\/hostname" .*absolute path/);
      });
      await t.step("a symlink leading out of the spool folder", async () => {
        await writeSpool("files/evil");
        await Deno.symlink("/etc/hostname", `${spoolDir}/files/evil`);
        const real = await Deno.realPath("/etc/hostname");
        await refused(
          ["--to", uri],
          new RegExp(
            `^Cannot read spool file "files/evil" of .*: it resolves to ${real}, outside `,
          ),
        );
      });
      await t.step("a symlinked folder leading out", async () => {
        await writeSpool("etc/hostname");
        await Deno.symlink("/etc", `${spoolDir}/etc`);
        await refused(["--to", uri], /^Cannot read spool file "etc\/hostname" .*outside /);
      });

      const other = otherHost();
      try {
        await t.step("a spool written for another host (with a password in its URI)", async () => {
          await writeSpool(
            "files/0",
            `http://eve:s3cret-in-spool@127.0.0.1:${new URL(other.uri).port}`,
          );
          const message = new RegExp(
            `^Cannot replay spool .*: it was written for ${other.uri}, but the configured ` +
              `tracking URI is ${uri}; a spool is only sent to the server it was written for$`,
          );
          await refused(["--to", uri], message);
          await refused([], message, { ...env, MLFLOW_TRACKING_URI: uri });
          await assert.rejects(() => sync(["--to", uri]), (e: Error) => {
            assert.ok(!e.message.includes("s3cret-in-spool"), e.message);
            return true;
          });
        });
        await t.step("no configured tracking URI: refused, naming the spool's", async () => {
          await writeSpool("files/0", other.uri);
          await refused(
            [],
            new RegExp(
              `^Cannot replay spool .*: no tracking URI is configured; it was written for ` +
                `${other.uri}: pass --to ${other.uri} \\(or set MLFLOW_TRACKING_URI\\)`,
            ),
          );
        });
        assert.deepEqual(other.seen, [], "the other host received requests");
      } finally {
        await other.close();
      }

      await t.step(
        "the same spool, with its own file and this server: sent (the control)",
        async () => {
          await writeSpool("files/0", `${uri}/`);
          assert.equal(await sync(["--to", uri]), 0);
          assert.deepEqual(await runState(), {
            status: "FINISHED",
            metrics: 1,
            artifacts: ["stolen.txt"],
          });
          await assert.rejects(() => Deno.stat(spoolDir), Deno.errors.NotFound);
        },
      );
    });
  },
});
