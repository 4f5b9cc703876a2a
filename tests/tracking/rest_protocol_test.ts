/**
 * RestStore's HTTP conventions, checked against a real loopback HTTP server that answers
 * scripted statuses (errors a healthy mlflow server cannot be made to produce on demand).
 */
import assert from "#assert";
import { runPython } from "../_python.ts";
import { MlflowRequestError } from "../../src/tracking/mlflow_request_error.ts";
import { LOG_BATCH_LIMITS, splitLogBatch } from "../../src/tracking/log_batch.ts";
import { RestStore } from "../../src/tracking/rest_store.ts";
import { credentialsFromEnv } from "../../src/tracking/rest_transport.ts";
import { RunLogger } from "../../src/tracking/run_logger.ts";

interface Seen {
  method: string;
  path: string;
  auth: string | null;
  body: string;
}

/** Serves `script` answers in order (the last one repeats); records the requests. */
function scriptedServer(script: (() => Response)[]) {
  const seen: Seen[] = [];
  let i = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    seen.push({
      method: req.method,
      path: url.pathname + url.search,
      auth: req.headers.get("authorization"),
      body: await req.text(),
    });
    return script[Math.min(i++, script.length - 1)]();
  });
  return { seen, uri: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) => () =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });

Deno.test("RestStore retries 429/503 with backoff, honours Retry-After, then succeeds", async () => {
  const srv = scriptedServer([
    json(429, { error_code: "REQUEST_LIMIT_EXCEEDED", message: "slow down" }, {
      "retry-after": "3",
    }),
    json(503, { error_code: "TEMPORARILY_UNAVAILABLE", message: "busy" }),
    json(200, { experiment_id: "42" }),
  ]);
  try {
    const waits: number[] = [];
    const store = new RestStore({
      uri: srv.uri,
      retry: { maxRetries: 4, baseDelayMs: 100, jitterMs: 10, maxDelayMs: 10_000 },
      sleep: (ms) => (waits.push(ms), Promise.resolve()),
      random: () => 0.5,
    });
    assert.equal(await store.createExperiment("e"), "42");
    // first wait: max(100 * 2^0 + 5, Retry-After 3 s); second: 100 * 2^1 + 5
    assert.deepEqual(waits, [3000, 205]);
    assert.equal(srv.seen.length, 3);
    assert.deepEqual(
      srv.seen.map((s) => s.path),
      Array(3).fill("/api/2.0/mlflow/experiments/create"),
    );
  } finally {
    await srv.close();
  }
});

Deno.test("RestStore gives up after the bounded retries with a typed error", async (t) => {
  await t.step("HTTP 500 every time", async () => {
    const srv = scriptedServer([json(500, { error_code: "INTERNAL_ERROR", message: "boom" })]);
    try {
      const store = new RestStore({
        uri: srv.uri,
        retry: { maxRetries: 2 },
        sleep: () => Promise.resolve(),
      });
      await assert.rejects(
        () => store.updateRun("abc", { status: "FINISHED", endTime: 1 }),
        (e: unknown) =>
          e instanceof MlflowRequestError && e.status === 500 && e.errorCode === "INTERNAL_ERROR" &&
          e.endpoint === "POST /api/2.0/mlflow/runs/update" &&
          e.message === `Cannot update run abc at ${srv.uri}: HTTP 500 INTERNAL_ERROR: boom`,
      );
      assert.equal(srv.seen.length, 3);
    } finally {
      await srv.close();
    }
  });
  await t.step("connection refused", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    let tries = 0;
    const store = new RestStore({
      uri: `http://127.0.0.1:${port}`,
      retry: { maxRetries: 2 },
      sleep: () => (tries++, Promise.resolve()),
      credentials: { kind: "basic", username: "u", password: "secret" },
    });
    await assert.rejects(
      () => store.getRun("abc"),
      (e: unknown) =>
        e instanceof MlflowRequestError && e.status === 0 && e.errorCode === "CONNECTION_ERROR" &&
        e.message.startsWith(
          `Cannot get run abc at http://127.0.0.1:${port}: no answer after 3 tries`,
        ) &&
        !e.message.includes("secret"),
    );
    assert.equal(tries, 2);
  });
  await t.step("a URI with user:password@ is refused without echoing the password", () => {
    assert.throws(
      () => new RestStore({ uri: "http://u:secret@127.0.0.1:5000" }),
      (e: unknown) =>
        e instanceof RangeError &&
        e.message.startsWith(
          'Cannot use tracking URI "http://127.0.0.1:5000": credentials in the URI are refused',
        ) && e.message.includes("MLFLOW_TRACKING_USERNAME") && !e.message.includes("secret"),
    );
  });
  await t.step("400 is not retried", async () => {
    const srv = scriptedServer([
      json(400, { error_code: "INVALID_PARAMETER_VALUE", message: "bad key" }),
    ]);
    try {
      const store = new RestStore({ uri: srv.uri, sleep: () => Promise.resolve() });
      await assert.rejects(
        () => store.logBatch("r", { params: { a: "b" } }),
        (e: unknown) =>
          e instanceof MlflowRequestError && e.status === 400 &&
          e.errorCode === "INVALID_PARAMETER_VALUE",
      );
      assert.equal(srv.seen.length, 1);
    } finally {
      await srv.close();
    }
  });
});

Deno.test("RestStore sends Basic (wins) or Bearer auth from MLflow's variables and NaN/Infinity as strings", async (t) => {
  const srv = scriptedServer([json(200, {})]);
  try {
    await t.step("Basic from username/password, even with a token set", async () => {
      const creds = credentialsFromEnv({
        MLFLOW_TRACKING_USERNAME: "ann",
        MLFLOW_TRACKING_PASSWORD: "pä:ss",
        MLFLOW_TRACKING_TOKEN: "tok",
      });
      await new RestStore({ uri: srv.uri, credentials: creds }).logBatch("r1", {
        metrics: [
          { key: "a", value: NaN, timestamp: 1, step: 0 },
          { key: "b", value: Infinity, timestamp: 1, step: 0 },
          { key: "c", value: -Infinity, timestamp: 1, step: 0 },
          { key: "d", value: 0.5, timestamp: 1, step: 0 },
        ],
      });
      const expected = (await runPython(
        `import base64\nprint("Basic " + base64.b64encode("ann:pä:ss".encode()).decode())`,
      )).trim();
      const last = srv.seen[srv.seen.length - 1];
      assert.equal(last.auth, expected);
      const body = JSON.parse(last.body) as { metrics: { value: unknown }[] };
      assert.deepEqual(body.metrics.map((m) => m.value), ["NaN", "Infinity", "-Infinity", 0.5]);
    });
    await t.step("Bearer from the token alone", async () => {
      const creds = credentialsFromEnv({ MLFLOW_TRACKING_TOKEN: "tok-123" });
      await new RestStore({ uri: srv.uri, credentials: creds }).updateRun("r1", {
        status: "KILLED",
      });
      assert.equal(srv.seen[srv.seen.length - 1].auth, "Bearer tok-123");
    });
    await t.step("no credentials, no header", async () => {
      assert.equal(credentialsFromEnv({}), null);
      await new RestStore({ uri: srv.uri }).updateRun("r1", { status: "KILLED" });
      assert.equal(srv.seen[srv.seen.length - 1].auth, null);
    });
  } finally {
    await srv.close();
  }
});

Deno.test("RestStore explains a 503 from a server started with --no-serve-artifacts", async () => {
  const srv = scriptedServer([
    json(200, {
      run: {
        info: {
          run_id: "r1",
          experiment_id: "1",
          artifact_uri: "mlflow-artifacts:/1/r1/artifacts",
        },
      },
    }),
    () => new Response("Service Unavailable", { status: 503 }),
  ]);
  try {
    const store = new RestStore({
      uri: srv.uri,
      retry: { maxRetries: 1 },
      sleep: () => Promise.resolve(),
    });
    await assert.rejects(
      () => store.uploadArtifact("r1", "checkpoints/last/model.safetensors", new Uint8Array(3)),
      (e: unknown) =>
        e instanceof MlflowRequestError && e.status === 503 &&
        e.endpoint ===
          "PUT /api/2.0/mlflow-artifacts/artifacts/1/r1/artifacts/checkpoints/last/model.safetensors" &&
        e.message.includes("--no-serve-artifacts"),
    );
  } finally {
    await srv.close();
  }
});

Deno.test("splitLogBatch() keeps every item within the server's limits", async (t) => {
  const cases = [
    { metrics: 2500, params: 0, tags: 0, calls: 3 },
    { metrics: 0, params: 250, tags: 0, calls: 3 },
    { metrics: 950, params: 60, tags: 60, calls: 2 },
  ];
  for (const c of cases) {
    await t.step(`${c.metrics} metrics, ${c.params} params, ${c.tags} tags`, () => {
      const parts = splitLogBatch({
        metrics: Array.from(
          { length: c.metrics },
          (_, i) => ({ key: "m", value: i, timestamp: 0, step: i }),
        ),
        params: Object.fromEntries(Array.from({ length: c.params }, (_, i) => [`p${i}`, "x"])),
        tags: Object.fromEntries(Array.from({ length: c.tags }, (_, i) => [`t${i}`, "x"])),
      });
      assert.equal(parts.length, c.calls);
      let m = 0, p = 0, tg = 0;
      for (const part of parts) {
        const nm = part.metrics?.length ?? 0,
          np = Object.keys(part.params ?? {}).length,
          nt = Object.keys(part.tags ?? {}).length;
        assert.ok(
          nm <= LOG_BATCH_LIMITS.metrics && np <= LOG_BATCH_LIMITS.params &&
            nt <= LOG_BATCH_LIMITS.tags,
        );
        assert.ok(nm + np + nt <= LOG_BATCH_LIMITS.items);
        m += nm, p += np, tg += nt;
      }
      assert.deepEqual([m, p, tg], [c.metrics, c.params, c.tags]);
    });
  }
  await t.step("1 MB body limit with long tag values", () => {
    const tags = Object.fromEntries(
      Array.from({ length: 300 }, (_, i) => [`t${i}`, "v".repeat(7000)]),
    );
    const parts = splitLogBatch({ tags });
    for (const part of parts) assert.ok(JSON.stringify(part).length < LOG_BATCH_LIMITS.bytes);
    assert.equal(parts.reduce((n, part) => n + Object.keys(part.tags ?? {}).length, 0), 300);
  });
});

Deno.test("RunLogger calls return at once while a slow server takes 300 ms per call; end waits for the data", async () => {
  const seen: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen.push(`${req.method} ${new URL(req.url).pathname}`);
    await req.arrayBuffer();
    await new Promise((r) => setTimeout(r, 300));
    return new Response("{}", { headers: { "content-type": "application/json" } });
  });
  try {
    const store = new RestStore({ uri: `http://127.0.0.1:${server.addr.port}` });
    const logger = new RunLogger({ store, runId: "r1" });
    const times: number[] = [];
    for (let epoch = 1; epoch <= 3; epoch++) {
      const t0 = performance.now();
      logger.logMetrics({
        train_loss: 1,
        train_acc: 0.5,
        val_loss: 1,
        val_acc: 0.5,
        val_macro_f1: 0.2,
        lr: 0.001,
        val_cost: 10,
        epoch_seconds: 1,
      }, epoch);
      times.push(performance.now() - t0);
    }
    assert.ok(Math.max(...times) < 50, `logging took ${times.join(", ")} ms`);
    const t0 = performance.now();
    await logger.end("FINISHED");
    assert.ok(performance.now() - t0 >= 300);
    assert.deepEqual(logger.summary().spooled, 0);
    // Epoch 1 went alone; epochs 2-3 were batched while it was in flight; then the status.
    assert.deepEqual(seen, [
      "POST /api/2.0/mlflow/runs/log-batch",
      "POST /api/2.0/mlflow/runs/log-batch",
      "POST /api/2.0/mlflow/runs/update",
    ]);
  } finally {
    await server.shutdown();
  }
});
