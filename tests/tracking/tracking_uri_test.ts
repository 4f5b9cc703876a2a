import assert from "#assert";
import {
  parseTrackingUri,
  redactUri,
  resolveTrackingUri,
  trackingServerUrl,
} from "../../src/tracking/tracking_uri.ts";
import { openTrackingStore } from "../../src/tracking/open_tracking_store_deno.ts";
import { FileStore } from "../../src/tracking/file_store.ts";
import { RestStore } from "../../src/tracking/rest_store.ts";

const CWD = "/work/project";

Deno.test("parseTrackingUri() follows MLflow's rules for servers, file: URIs and paths", async (t) => {
  const cases: [string, ReturnType<typeof parseTrackingUri>][] = [
    ["http://127.0.0.1:5000", { kind: "server", url: "http://127.0.0.1:5000" }],
    ["https://mlflow.example.com/", { kind: "server", url: "https://mlflow.example.com" }],
    ["HTTP://Host:8080/prefix/", { kind: "server", url: "http://host:8080/prefix" }],
    ["file:///abs/mlruns", { kind: "file", path: "/abs/mlruns" }],
    ["file://localhost/abs/mlruns", { kind: "file", path: "/abs/mlruns" }],
    ["file:/abs/mlruns", { kind: "file", path: "/abs/mlruns" }],
    ["file:./mlruns", { kind: "file", path: "/work/project/mlruns" }],
    ["file:../other/mlruns", { kind: "file", path: "/work/other/mlruns" }],
    ["file:///tmp/with%20space", { kind: "file", path: "/tmp/with space" }],
    ["./mlruns", { kind: "file", path: "/work/project/mlruns" }],
    ["mlruns", { kind: "file", path: "/work/project/mlruns" }],
    ["/abs/./x/../mlruns", { kind: "file", path: "/abs/mlruns" }],
    ["./mlflow.example.com", { kind: "file", path: "/work/project/mlflow.example.com" }],
    ["C:\\runs\\mlruns", { kind: "file", path: "C:/runs/mlruns" }],
  ];
  for (const [uri, expected] of cases) {
    await t.step(uri, () => assert.deepEqual(parseTrackingUri(uri, CWD), expected));
  }
});

Deno.test("parseTrackingUri() refuses every other form and names the accepted ones", async (t) => {
  const cases: [string, RegExp][] = [
    ["databricks", /"databricks": Databricks is not supported; expected http\(s\):\/\//],
    ["databricks://profile", /the scheme databricks: is not supported; expected http\(s\):\/\//],
    ["sqlite:///mlflow.db", /the scheme sqlite: is not supported; .*mlflow server/],
    ["postgresql://db/mlflow", /the scheme postgresql: is not supported/],
    ["127.0.0.1:5000", /looks like host:port without a scheme; pass http:\/\/127\.0\.0\.1:5000/],
    ["localhost:5000", /looks like host:port without a scheme; pass http:\/\/localhost:5000/],
    ["mlflow.example.com", /looks like a host name; .*http:\/\/mlflow\.example\.com.*\.\/mlflow/],
    ["file://server/share/mlruns", /file: URIs on another host \(server\) are not supported/],
    ["http://", /not a valid URL|has no host/],
    ["http://host:5000/?x=1", /takes no \?query or #fragment/],
    ["", /it is empty/],
  ];
  for (const [uri, message] of cases) {
    await t.step(JSON.stringify(uri), () => {
      assert.throws(
        () => parseTrackingUri(uri, CWD),
        (e: Error) =>
          e instanceof RangeError && e.message.startsWith("Cannot use tracking URI") &&
          message.test(e.message),
      );
    });
  }
});

Deno.test("parseTrackingUri() refuses user:password@ and never echoes the password", () => {
  for (const uri of ["http://ann:s3cret@127.0.0.1:5000", "https://tok3n@mlflow.example.com/"]) {
    assert.throws(
      () => parseTrackingUri(uri, CWD),
      (e: Error) =>
        e instanceof RangeError &&
        /credentials in the URI are refused.*MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD/
          .test(e.message) &&
        !e.message.includes("s3cret") && !e.message.includes("tok3n"),
    );
  }
  assert.equal(redactUri("https://ann:s3cret@host:1/x"), "https://host:1/x");
});

Deno.test("resolveTrackingUri() takes the value, else MLFLOW_TRACKING_URI, else ./mlruns", () => {
  assert.equal(
    resolveTrackingUri("http://a:1", { MLFLOW_TRACKING_URI: "http://b:2" }),
    "http://a:1",
  );
  assert.equal(resolveTrackingUri("", { MLFLOW_TRACKING_URI: "http://b:2" }), "http://b:2");
  assert.equal(resolveTrackingUri("", {}), "./mlruns");
});

Deno.test("trackingServerUrl() accepts servers only", () => {
  assert.equal(trackingServerUrl("http://127.0.0.1:5000/"), "http://127.0.0.1:5000");
  assert.throws(
    () => trackingServerUrl("./mlruns"),
    (e: Error) =>
      e instanceof RangeError && /names a local folder, not a tracking server/.test(e.message),
  );
});

Deno.test("openTrackingStore() opens a folder or a server; read-only never creates a folder", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "open_store_" });
  try {
    await t.step("a missing folder is an error naming it when read-only", async () => {
      await assert.rejects(
        () => openTrackingStore(`${dir}/nope`, {}, { readOnly: true }),
        (e: Error) =>
          e instanceof RangeError &&
          e.message.startsWith(
            `Cannot read the MLflow store at ${dir}/nope: the folder does not exist`,
          ),
      );
      await assert.rejects(() => Deno.stat(`${dir}/nope`), Deno.errors.NotFound);
    });
    await t.step("MLFLOW_TRACKING_URI is used when the value is empty", async () => {
      await assert.rejects(
        () =>
          openTrackingStore("", { MLFLOW_TRACKING_URI: `file://${dir}/env` }, { readOnly: true }),
        (e: Error) => e.message.includes(`${dir}/env: the folder does not exist`),
      );
    });
    await t.step("a file is not a store", async () => {
      await Deno.writeTextFile(`${dir}/file`, "");
      await assert.rejects(
        () => openTrackingStore(`${dir}/file`, {}, { readOnly: true }),
        (e: Error) => e instanceof RangeError && e.message.includes("it is a file"),
      );
    });
    await t.step("a writer gets a FileStore that creates the folder on first use", async () => {
      const store = await openTrackingStore(`file://${dir}/mlruns`, {});
      assert.ok(store instanceof FileStore);
      assert.equal(store.location, `${dir}/mlruns`);
      await store.createExperiment("e");
      assert.ok((await Deno.stat(`${dir}/mlruns/0/meta.yaml`)).isFile);
      const reader = await openTrackingStore(`${dir}/mlruns`, {}, { readOnly: true });
      assert.equal((await reader.getExperimentByName("e"))?.name, "e");
    });
    await t.step("a server gets a RestStore with the environment's credentials", async () => {
      const seen: (string | null)[] = [];
      const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
        seen.push(req.headers.get("authorization"));
        return Response.json({ experiment_id: "4" });
      });
      try {
        const store = await openTrackingStore(`http://127.0.0.1:${server.addr.port}/`, {
          MLFLOW_TRACKING_USERNAME: "ann",
          MLFLOW_TRACKING_PASSWORD: "pw",
        });
        assert.ok(store instanceof RestStore);
        assert.equal(store.location, `http://127.0.0.1:${server.addr.port}`);
        assert.equal(await store.createExperiment("x"), "4");
        assert.deepEqual(seen, [`Basic ${btoa("ann:pw")}`]);
      } finally {
        await server.shutdown();
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
