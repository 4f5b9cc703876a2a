/**
 * The demo's `/mlflow` proxy as an attacker on the same machine sees it: `deno task demo`
 * (a real child process) holding the ADMIN credentials of a real
 * `mlflow server --app-name basic-auth`. Admin and destructive calls must be refused whatever
 * the token or Origin, the server's state must not change (checked with the admin login,
 * directly), bodies must be size-limited, and the demo server's memory must stay flat while
 * hundreds of MB are pushed at it.
 */
import assert from "#assert";
import { skipUnlessPython } from "../_python.ts";
import { basicAuthServer, startMlflowServer } from "../_mlflow_server.ts";
import { type DemoProcess, startDemoProcess } from "./_demo_process.ts";

const ignore = await skipUnlessPython("mlflow", "flask_wtf");

/** Admin calls straight to the MLflow server (not through the demo). */
function adminClient(uri: string, admin: { username: string; password: string }) {
  const authorization = `Basic ${btoa(`${admin.username}:${admin.password}`)}`;
  return async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${uri}/api/2.0/${path}`, {
      method,
      headers: { authorization, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text);
    } catch { /* not JSON */ }
    return { status: response.status, json, text };
  };
}

/**
 * One HTTP/1.1 request over a raw socket, streaming `total` bytes of body in 1 MiB pieces
 * (Content-Length, or chunked), then reading the answer. Returns the status line, the body
 * and how many bytes were written before the server stopped taking them.
 */
async function rawUpload(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  total: number,
  framing: "content-length" | "chunked",
): Promise<{ status: number; body: string; sent: number }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const enc = new TextEncoder();
  const head = `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
    Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("") +
    (framing === "chunked" ? "Transfer-Encoding: chunked\r\n" : `Content-Length: ${total}\r\n`) +
    "Connection: close\r\n\r\n";
  const answer = new Response(conn.readable).text().catch((e) => `read error: ${e.message}`);
  const piece = new Uint8Array(1 << 20).fill(0x20);
  let sent = 0;
  try {
    await conn.write(enc.encode(head));
    while (sent < total) {
      const part = piece.subarray(0, Math.min(piece.length, total - sent));
      if (framing === "chunked") await conn.write(enc.encode(`${part.length.toString(16)}\r\n`));
      for (let off = 0; off < part.length;) off += await conn.write(part.subarray(off));
      if (framing === "chunked") await conn.write(enc.encode("\r\n"));
      sent += part.length;
    }
    if (framing === "chunked") await conn.write(enc.encode("0\r\n\r\n"));
  } catch {
    // The server answered and closed before taking everything: that is the point.
  }
  const text = await answer;
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  return { status, body: text.slice(text.indexOf("\r\n\r\n") + 4), sent };
}

Deno.test({
  name:
    "demo /mlflow proxy with admin credentials of a basic-auth MLflow server: admin and destructive calls refused (403) without token, with a wrong one and with the right one; server state unchanged",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "demo-proxy-security-" });
    const setup = await basicAuthServer(dir);
    const mlflow = await startMlflowServer(setup.args, {
      logFile: `${dir}/mlflow-server.log`,
      env: setup.env,
    });
    const admin = adminClient(mlflow.uri, setup.admin);
    let demo: DemoProcess | null = null;
    try {
      // The victim's data, created directly with the admin login.
      const bob = await admin("POST", "mlflow/users/create", {
        username: "bob",
        password: "bob-password-0123456789",
      });
      assert.equal(bob.status, 200, bob.text);
      const victimExp = String(
        (await admin("POST", "mlflow/experiments/create", { name: "victim" })).json.experiment_id,
      );
      const victimRun = (await admin("POST", "mlflow/runs/create", {
        experiment_id: victimExp,
        start_time: Date.now(),
      })).json.run as { info: { run_id: string; artifact_uri: string } };
      const victimRoot = victimRun.info.artifact_uri.replace(/^mlflow-artifacts:\//, "");
      const put = await fetch(
        `${mlflow.uri}/api/2.0/mlflow-artifacts/artifacts/${victimRoot}/keep.txt`,
        {
          method: "PUT",
          headers: { authorization: `Basic ${btoa(`admin:${setup.admin.password}`)}` },
          body: "precious",
        },
      );
      assert.equal(put.status, 200, await put.text());

      /** What the attacks must leave as it is, read with the admin login. */
      const state = async () => {
        const mallory = await admin("GET", "mlflow/users/get?username=mallory");
        const bobNow = await admin("GET", "mlflow/users/get?username=bob");
        const exp = await admin("GET", `mlflow/experiments/get?experiment_id=${victimExp}`);
        const run = await admin("GET", `mlflow/runs/get?run_id=${victimRun.info.run_id}`);
        const files = await admin("GET", `mlflow/artifacts/list?run_id=${victimRun.info.run_id}`);
        const metrics = (run.json.run as { data?: { metrics?: unknown[] } })?.data?.metrics ?? [];
        return {
          malloryStatus: mallory.status,
          bobIsAdmin: (bobNow.json.user as { is_admin?: boolean } | undefined)?.is_admin,
          experiment: (exp.json.experiment as { lifecycle_stage?: string })?.lifecycle_stage,
          run: (run.json.run as { info?: { lifecycle_stage?: string; status?: string } })?.info,
          metrics: metrics.length,
          artifacts: ((files.json.files ?? []) as { path: string }[]).map((f) => f.path),
        };
      };
      const before = await state();
      assert.deepEqual(before.malloryStatus, 404);
      assert.equal(before.bobIsAdmin, false);
      assert.equal(before.experiment, "active");
      assert.deepEqual(before.artifacts, ["keep.txt"]);

      demo = await startDemoProcess(
        ["--mlflow-tracking-uri", mlflow.uri, "--max-upload-mb", "96"],
        {
          tmpDir: dir,
          env: {
            MLFLOW_TRACKING_USERNAME: setup.admin.username,
            MLFLOW_TRACKING_PASSWORD: setup.admin.password,
          },
        },
      );
      const base = `http://127.0.0.1:${demo.port}/mlflow`;
      const token = demo.token;
      assert.match(token, /^[A-Za-z0-9_-]{43}$/);

      await t.step(
        "the attacks are refused with 403, and the server state is unchanged",
        async () => {
          const attacks: [string, string, unknown][] = [
            ["POST", "api/2.0/mlflow/users/create", {
              username: "mallory",
              password: "x".repeat(20),
            }],
            ["PATCH", "api/2.0/mlflow/users/update-admin", { username: "bob", is_admin: true }],
            ["POST", "api/2.0/mlflow/runs/delete", { run_id: victimRun.info.run_id }],
            ["POST", "api/2.0/mlflow/experiments/delete", { experiment_id: victimExp }],
            ["DELETE", `api/2.0/mlflow-artifacts/artifacts/${victimRoot}/keep.txt`, undefined],
            // Allowed endpoints, but aimed at a run and experiment the page did not create/open:
            ["PUT", `api/2.0/mlflow-artifacts/artifacts/${victimRoot}/evil.txt`, "evil"],
            ["POST", "api/2.0/mlflow/runs/log-batch", {
              run_id: victimRun.info.run_id,
              metrics: [{ key: "evil", value: 1, timestamp: 1, step: 0 }],
            }],
            ["POST", "api/2.0/mlflow/runs/update", {
              run_id: victimRun.info.run_id,
              status: "FAILED",
            }],
            ["POST", "api/2.0/mlflow/runs/create", { experiment_id: victimExp, start_time: 1 }],
            ["POST", "api/2.0/mlflow/runs/search", { experiment_ids: [victimExp] }],
          ];
          const wrong = token.slice(0, -1) + (token.endsWith("A") ? "B" : "A");
          const variants: [string, Record<string, string>, RegExp][] = [
            ["no token, no Origin", {}, /missing or wrong x-demo-token/],
            ["wrong token", { "x-demo-token": wrong }, /missing or wrong x-demo-token/],
            ["right token, foreign Origin", {
              "x-demo-token": token,
              origin: "http://evil.example",
            }, /cross-origin/],
            ["right token", { "x-demo-token": token }, /^Cannot proxy /],
          ];
          const answers: string[] = [];
          for (const [method, path, body] of attacks) {
            for (const [variant, headers, reason] of variants) {
              const response = await fetch(`${base}/${path}`, {
                method,
                headers: { "content-type": "application/json", ...headers },
                body: body === undefined
                  ? undefined
                  : typeof body === "string"
                  ? body
                  : JSON.stringify(body),
              });
              const answer = await response.json();
              answers.push(`${method} ${path} (${variant}): ${response.status}`);
              assert.equal(response.status, 403, `${method} ${path} (${variant})`);
              assert.equal(answer.error_code, "PERMISSION_DENIED");
              assert.match(answer.message, reason, `${method} ${path} (${variant})`);
            }
          }
          assert.equal(answers.length, attacks.length * variants.length);
          assert.deepEqual(await state(), before);
        },
      );

      // The page's own flow (what web/_mlflow.ts sends), as the positive control: the proxy
      // does reach the server with the admin login, for the page's own experiment and run.
      const page = async (method: string, path: string, body?: unknown) => {
        const response = await fetch(`${base}/api/2.0/mlflow/${path}`, {
          method,
          headers: { "x-demo-token": token, "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: response.status, json: await response.json() };
      };
      let own: { runId: string; root: string } | null = null;
      await t.step(
        "the page's own calls are forwarded (get-by-name, create, search, log, update, PUT)",
        async () => {
          const missing = await page("GET", "experiments/get-by-name?experiment_name=own");
          assert.equal(missing.status, 404);
          const created = await page("POST", "experiments/create", { name: "own" });
          assert.equal(created.status, 200, JSON.stringify(created.json));
          const expId = created.json.experiment_id as string;
          const again = await page("GET", "experiments/get-by-name?experiment_name=own");
          assert.equal(again.json.experiment.experiment_id, expId);
          assert.equal(
            (await page("POST", "runs/search", { experiment_ids: [expId] })).status,
            200,
          );
          const run = await page("POST", "runs/create", { experiment_id: expId, start_time: 1 });
          assert.equal(run.status, 200, JSON.stringify(run.json));
          const runId = run.json.run.info.run_id as string;
          const root = (run.json.run.info.artifact_uri as string).replace(
            /^mlflow-artifacts:\//,
            "",
          );
          own = { runId, root };
          const logged = await page("POST", "runs/log-batch", {
            run_id: runId,
            metrics: [{ key: "loss", value: 0.5, timestamp: 1, step: 1 }],
          });
          assert.equal(logged.status, 200, JSON.stringify(logged.json));
          const file = await fetch(`${base}/api/2.0/mlflow-artifacts/artifacts/${root}/m/x.csv`, {
            method: "PUT",
            headers: { "x-demo-token": token },
            body: "a,b\n1,2\n",
          });
          assert.equal(file.status, 200, await file.text());
          // Path tricks inside the page's own run stay refused.
          for (
            const trick of [`${root}/../../${victimRoot}/x`, `${root}/%2e%2e/x`, `${root}/a%2Fb`]
          ) {
            const r = await fetch(`${base}/api/2.0/mlflow-artifacts/artifacts/${trick}`, {
              method: "PUT",
              headers: { "x-demo-token": token },
              body: "x",
            });
            await r.body?.cancel();
            assert.equal(r.status, 403, trick);
          }
          const ended = await page("POST", "runs/update", { run_id: runId, status: "FINISHED" });
          assert.equal(ended.status, 200);
          const read = await admin("GET", `mlflow/runs/get?run_id=${runId}`);
          const info = (read.json.run as { info: { status: string } }).info;
          assert.equal(info.status, "FINISHED");
          const files = await admin("GET", `mlflow/artifacts/list?run_id=${runId}&path=m`);
          assert.deepEqual((files.json.files as { path: string }[]).map((f) => f.path), [
            "m/x.csv",
          ]);
          assert.deepEqual(await state(), before);
        },
      );

      await t.step(
        "bodies are limited (413/411) and streamed: the demo server's memory stays flat",
        async () => {
          assert.ok(own, "the previous step created no run");
          const { root, runId } = own!;
          const headers = { "x-demo-token": token };
          const m0 = demo!.memory();
          // 1. 300 MB declared by Content-Length, over --max-upload-mb 96: refused at once.
          const big = await rawUpload(
            demo!.port,
            "PUT",
            `/mlflow/api/2.0/mlflow-artifacts/artifacts/${root}/big.bin`,
            headers,
            300_000_000,
            "content-length",
          );
          assert.equal(big.status, 413, big.body);
          assert.match(
            big.body,
            /300000000 bytes is more than the demo's limit of 100663296 bytes/,
          );
          // 2. 300 MB of chunked JSON to log-batch: refused once 2 MiB have arrived.
          const json = await rawUpload(
            demo!.port,
            "POST",
            "/mlflow/api/2.0/mlflow/runs/log-batch",
            { ...headers, "content-type": "application/json" },
            300_000_000,
            "chunked",
          );
          assert.equal(json.status, 413, json.body);
          assert.match(json.body, /the body is larger than 2097152 bytes/);
          // 3. A chunked artifact upload (no Content-Length): refused.
          const chunked = await rawUpload(
            demo!.port,
            "PUT",
            `/mlflow/api/2.0/mlflow-artifacts/artifacts/${root}/chunked.bin`,
            headers,
            8_000_000,
            "chunked",
          );
          assert.equal(chunked.status, 411, chunked.body);
          const m1 = demo!.memory();
          // 4. 90 MB within the limit: streamed through to the server.
          const ok = await rawUpload(
            demo!.port,
            "PUT",
            `/mlflow/api/2.0/mlflow-artifacts/artifacts/${root}/ok.bin`,
            headers,
            90_000_000,
            "content-length",
          );
          assert.equal(ok.status, 200, ok.body);
          const m2 = demo!.memory();
          const files = await admin("GET", `mlflow/artifacts/list?run_id=${runId}`);
          const listed = Object.fromEntries(
            (files.json.files as { path: string; file_size?: number }[]).map((f) => [
              f.path,
              f.file_size,
            ]),
          );
          assert.equal(listed["ok.bin"], 90_000_000);
          assert.ok(!("big.bin" in listed) && !("chunked.bin" in listed), JSON.stringify(listed));
          console.log(
            `demo server memory (MiB): before RSS ${m0.rssMiB.toFixed(1)} peak ${
              m0.peakMiB.toFixed(1)
            }; after 2 x 300 MB refused RSS ${m1.rssMiB.toFixed(1)} peak ${
              m1.peakMiB.toFixed(1)
            }; after 90 MB streamed RSS ${m2.rssMiB.toFixed(1)} peak ${m2.peakMiB.toFixed(1)}`,
          );
          // Buffering any of these bodies would raise the peak by at least its size.
          assert.ok(m1.peakMiB - m0.peakMiB < 32, `peak grew ${m1.peakMiB - m0.peakMiB} MiB`);
          assert.ok(m2.peakMiB - m0.peakMiB < 40, `peak grew ${m2.peakMiB - m0.peakMiB} MiB`);
          assert.deepEqual(await state(), before);
        },
      );
    } finally {
      const stopped = await demo?.stop();
      if (stopped && stopped.code !== 0) console.error(stopped.output);
      await mlflow.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
