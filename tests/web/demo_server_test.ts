import assert from "#assert";
import { MlflowRequestError } from "../../src/tracking/mlflow_request_error.ts";
import { RestStore } from "../../src/tracking/rest_store.ts";
import { parseProxyTarget, redactUrl, startDemoServer } from "../../web/server_deno.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** The proxy token the page was served with (its `<meta name="demo-token">`). */
async function pageToken(url: string): Promise<string> {
  const html = await (await fetch(url)).text();
  const m = /<meta name="demo-token" content="([A-Za-z0-9_-]+)">/.exec(html);
  if (m === null) throw new assert.AssertionError({ message: "the page has no demo-token meta" });
  return m[1];
}

Deno.test("startDemoServer() serves the page (with its token only), the minified bundle, the wasm binaries and its config", async (t) => {
  const server = await startDemoServer({ port: 0 });
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{43}$/);
    const token = new URL(server.url).searchParams.get("token")!;
    await t.step("index.html with the token in a meta tag", async () => {
      const response = await fetch(server.url);
      assert.equal(response.status, 200);
      assert.match(response.headers.get("content-type")!, /^text\/html/);
      assert.equal(response.headers.get("referrer-policy"), "no-referrer");
      const html = await response.text();
      const onDisk = await Deno.readTextFile(`${ROOT}/web/index.html`);
      assert.equal(
        html,
        onDisk.replace("<head>", `<head>\n    <meta name="demo-token" content="${token}">`),
      );
      assert.equal(await pageToken(server.url), token);
    });
    await t.step("the page without its token, or with a wrong one, is 403", async () => {
      const base = new URL("/", server.url);
      const wrong = token.slice(0, -1) + (token.endsWith("A") ? "B" : "A");
      for (const path of ["", "index.html", `?token=${wrong}`, "?token="]) {
        const response = await fetch(new URL(path, base));
        const text = await response.text();
        assert.equal(response.status, 403, path);
        assert.match(text, /^Cannot open the demo page without its access token/);
        assert.ok(!text.includes(token));
      }
    });
    await t.step(
      "app.js is the bundled core, minified, without a source map or local paths",
      async () => {
        const response = await fetch(new URL("app.js", server.url));
        assert.equal(response.status, 200);
        assert.match(response.headers.get("content-type")!, /javascript/);
        const js = await response.text();
        assert.ok(js.length > 100_000, `bundle is only ${js.length} bytes`);
        assert.ok(js.includes("component-x-lstm"), "bundle lacks the train config defaults");
        assert.ok(!/\bDeno\.(readFile|open|env)\b/.test(js), "bundle uses Deno APIs");
        assert.ok(!js.includes("sourceMappingURL"), "bundle links a source map");
        const home = Deno.env.get("HOME");
        for (const local of [ROOT, ".cache/deno", ...(home ? [`${home}/`] : [])]) {
          assert.ok(!js.includes(local), `bundle names the local path ${local}`);
        }
        const map = await fetch(new URL("app.js.map", server.url));
        await map.body?.cancel();
        assert.equal(map.status, 404);
      },
    );
    await t.step("wasm binaries from the npm cache", async () => {
      const response = await fetch(new URL("wasm/tfjs-backend-wasm-simd.wasm", server.url));
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "application/wasm");
      const bytes = new Uint8Array(await response.arrayBuffer());
      assert.deepEqual([...bytes.subarray(0, 4)], [0x00, 0x61, 0x73, 0x6d]); // "\0asm"
    });
    await t.step("config.json says MLflow is off", async () => {
      const config = await (await fetch(new URL("config.json", server.url))).json();
      assert.deepEqual(config.mlflow, { enabled: false, target: "", proxy: "/mlflow" });
      assert.equal(config.wasmPath, "/wasm/");
    });
    await t.step("unknown paths and files outside web/ are 404", async () => {
      for (const path of ["nope.html", "server_deno.ts", "../deno.json", "wasm/other.wasm"]) {
        const response = await fetch(new URL(path, server.url));
        await response.body?.cancel();
        assert.equal(response.status, 404, path);
      }
    });
    await t.step("a foreign Host header (DNS rebinding) is refused", async () => {
      // fetch() sets Host itself, so speak HTTP/1.1 over a raw socket.
      const raw = async (host: string) => {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
        await conn.write(
          new TextEncoder().encode(
            `GET /config.json HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
          ),
        );
        return await new Response(conn.readable).text();
      };
      const foreign = await raw(`evil.example:${server.port}`);
      assert.match(foreign, /^HTTP\/1\.1 421 /);
      assert.ok(
        foreign.includes(
          `Cannot serve host "evil.example:${server.port}": expected one of 127.0.0.1:${server.port}`,
        ),
        foreign,
      );
      assert.match(await raw(`localhost:${server.port}`), /^HTTP\/1\.1 200 /);
    });
    await t.step(
      "/mlflow: 403 without the token; 503 with a hint when no tracking URI was given",
      async () => {
        const url = new URL(
          "mlflow/api/2.0/mlflow/experiments/get-by-name?experiment_name=x",
          server.url,
        );
        const refused = await fetch(url);
        assert.equal(refused.status, 403);
        assert.match((await refused.json()).message, /missing or wrong x-demo-token header/);
        const response = await fetch(url, { headers: { "x-demo-token": token } });
        assert.equal(response.status, 503);
        const body = await response.json();
        assert.equal(body.error_code, "TEMPORARILY_UNAVAILABLE");
        assert.match(body.message, /Cannot reach MLflow through the demo: .*--mlflow-tracking-uri/);
      },
    );
  } finally {
    await server.close();
  }
});

Deno.test("startDemoServer({ sourceMap: true }) bundles unminified with a linked source map (development)", async () => {
  const server = await startDemoServer({ port: 0, sourceMap: true });
  try {
    const js = await (await fetch(new URL("app.js", server.url))).text();
    assert.match(js, /\/\/# sourceMappingURL=app\.js\.map\s*$/);
    const map = await (await fetch(new URL("app.js.map", server.url))).json();
    assert.equal(map.version, 3);
    assert.ok(map.sources.length > 10, `${map.sources.length} sources`);
  } finally {
    await server.close();
  }
});

Deno.test("startDemoServer() rejects a non-loopback host and a bad port", async (t) => {
  await t.step("host 0.0.0.0", async () => {
    await assert.rejects(
      () => startDemoServer({ host: "0.0.0.0" }),
      (error: Error) => {
        assert.ok(error instanceof RangeError);
        assert.match(
          error.message,
          /^Cannot serve the demo on --host "0\.0\.0\.0": expected a loopback host \(127\.0\.0\.1, localhost/,
        );
        return true;
      },
    );
  });
  await t.step("port 70000", async () => {
    await assert.rejects(() => startDemoServer({ port: 70000 }), {
      name: "RangeError",
      message: "Cannot serve the demo on --port 70000: expected an integer 0..65535",
    });
  });
  await t.step("file: tracking URI", () => {
    assert.throws(() => parseProxyTarget("file:///tmp/mlruns"), (error: Error) => {
      assert.ok(error instanceof TypeError);
      assert.match(
        error.message,
        /^Cannot proxy to --mlflow-tracking-uri "file:\/\/\/tmp\/mlruns": it names a local folder/,
      );
      return true;
    });
  });
  await t.step("tracking URI with credentials", async () => {
    await assert.rejects(
      () => startDemoServer({ mlflowTrackingUri: "http://alice:pw@127.0.0.1:5000" }),
      (error: Error) => {
        assert.ok(error instanceof RangeError);
        assert.match(error.message, /credentials in the URI are refused.*MLFLOW_TRACKING_USERNAME/);
        assert.ok(!error.message.includes("pw@") && !error.message.includes("alice"));
        return true;
      },
    );
  });
});

Deno.test("redactUrl() drops credentials from a tracking URI", () => {
  assert.equal(redactUrl("https://bob:s3cret@mlflow.example:5000/"), "https://mlflow.example:5000");
  assert.equal(redactUrl("not a url"), "");
});

Deno.test("the /mlflow proxy forwards same-origin API calls with server-side credentials only", async (t) => {
  // A real upstream HTTP server that records what reaches it.
  const seen: { method: string; path: string; headers: Headers; body: string }[] = [];
  const upstream = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    seen.push({
      method: req.method,
      path: url.pathname + url.search,
      headers: req.headers,
      body: await req.text(),
    });
    if (url.searchParams.get("experiment_name") === "unauthorized") {
      return new Response(JSON.stringify({ error_code: "UNAUTHENTICATED", message: "nope" }), {
        status: 401,
        headers: { "content-type": "application/json", "www-authenticate": "Basic" },
      });
    }
    return new Response(JSON.stringify({ experiment_id: "7" }), {
      status: 200,
      headers: { "content-type": "application/json", "set-cookie": "session=leak" },
    });
  });
  const server = await startDemoServer({
    mlflowTrackingUri: `http://127.0.0.1:${upstream.addr.port}`,
    mlflowAuthorization: "Basic c2VydmVyOnNpZGU=",
  });
  const token = await pageToken(server.url);
  try {
    await t.step("config.json names the target without its credentials", async () => {
      const config = await (await fetch(new URL("config.json", server.url))).json();
      assert.deepEqual(config.mlflow, {
        enabled: true,
        target: `http://127.0.0.1:${upstream.addr.port}`,
        proxy: "/mlflow",
      });
    });
    await t.step("POST is forwarded; page auth, cookies, token and query are dropped", async () => {
      const response = await fetch(
        new URL("mlflow/api/2.0/mlflow/experiments/create?x=1", server.url),
        {
          method: "POST",
          headers: {
            "content-type": "application/json",
            authorization: "Bearer from-page",
            cookie: "c=1",
            "x-demo-token": token,
          },
          body: JSON.stringify({ name: "demo" }),
        },
      );
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("set-cookie"), null);
      assert.deepEqual(await response.json(), { experiment_id: "7" });
      const last = seen.at(-1)!;
      assert.equal(last.method, "POST");
      assert.equal(last.path, "/api/2.0/mlflow/experiments/create");
      assert.equal(last.body, '{"name":"demo"}');
      assert.equal(last.headers.get("authorization"), "Basic c2VydmVyOnNpZGU=");
      assert.equal(last.headers.get("cookie"), null);
      assert.equal(last.headers.get("content-type"), "application/json");
      assert.equal(last.headers.get("x-demo-token"), null);
    });
    await t.step("a cross-origin request is refused, even with the token", async () => {
      const before = seen.length;
      const response = await fetch(
        new URL("mlflow/api/2.0/mlflow/experiments/create", server.url),
        {
          method: "POST",
          headers: { origin: "http://evil.example", "x-demo-token": token },
          body: "{}",
        },
      );
      assert.equal(response.status, 403);
      const body = await response.json();
      assert.equal(body.error_code, "PERMISSION_DENIED");
      assert.match(
        body.message,
        /^Cannot proxy a cross-origin request: origin http:\/\/evil\.example/,
      );
      assert.equal(seen.length, before);
    });
    await t.step("a 401 from the server says the demo's credentials were rejected", async () => {
      // Through RestStore with the token, as the page calls it.
      const store = new RestStore({
        uri: new URL("mlflow", server.url).toString(),
        fetch: (input, init) =>
          fetch(input, { ...init, headers: { ...init?.headers, "x-demo-token": token } }),
        retry: { maxRetries: 0 },
      });
      await assert.rejects(() => store.getExperimentByName("unauthorized"), (e: Error) => {
        assert.ok(e instanceof MlflowRequestError && e.status === 401, String(e));
        assert.match(
          e.message,
          /HTTP 401 UNAUTHENTICATED: The MLflow server at http:\/\/127\.0\.0\.1:\d+ rejected the credentials the demo server was started with \(MLFLOW_TRACKING_USERNAME\/PASSWORD or MLFLOW_TRACKING_TOKEN\): check them/,
        );
        assert.ok(!e.message.includes("; set MLFLOW_TRACKING"), e.message);
        return true;
      });
    });
    await t.step("paths outside the page's MLflow calls are refused (403)", async () => {
      const before = seen.length;
      for (
        const path of [
          "mlflow/",
          "mlflow/static-files/x.js",
          "mlflow/api/2.0/mlflow/../../x",
          "mlflow/api/2.0/mlflow/runs/get?run_id=r",
          "mlflow/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/x",
        ]
      ) {
        const response = await fetch(new URL(path, server.url), {
          headers: { "x-demo-token": token },
        });
        const body = await response.json();
        assert.equal(response.status, 403, path);
        assert.equal(body.error_code, "PERMISSION_DENIED", path);
        assert.match(body.message, /^Cannot proxy GET \/mlflow\//, path);
      }
      assert.equal(seen.length, before);
    });
  } finally {
    await server.close();
    await upstream.shutdown();
  }
});

Deno.test("deno task demo: --help documents every flag; bad flags name the allowed ones", async (t) => {
  const run = async (...args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}/cli/demo.ts`, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  };
  await t.step("--help", async () => {
    const { code, stdout } = await run("--help");
    assert.equal(code, 0);
    for (
      const flag of [
        "--port",
        "--host",
        "--mlflow-tracking-uri",
        "--max-upload-mb",
        "--source-map",
        "--help",
      ]
    ) {
      assert.ok(stdout.includes(flag), `--help lacks ${flag}`);
    }
  });
  await t.step("--bogus", async () => {
    const { code, stderr } = await run("--bogus");
    assert.equal(code, 1);
    assert.match(
      stderr,
      /Cannot parse the demo flags: Unknown option '--bogus'.*allowed flags: --port, --host, --mlflow-tracking-uri, --max-upload-mb, --source-map, --help/,
    );
  });
  await t.step("--port abc", async () => {
    const { code, stderr } = await run("--port", "abc");
    assert.equal(code, 1);
    assert.match(stderr, /Cannot use --port "abc": expected an integer 0\.\.65535/);
  });
});
