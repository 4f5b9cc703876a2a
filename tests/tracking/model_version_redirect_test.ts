import assert from "#assert";
import { MlflowRequestError } from "../../src/tracking/mlflow_request_error.ts";
import { RestStore } from "../../src/tracking/rest_store.ts";

Deno.test("RestStore's model-version tag and description never follow a redirect: the other host sees neither credentials nor data", async () => {
  const seen: string[] = [];
  const other = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen.push(`${req.method} ${new URL(req.url).pathname} ${await req.text()}`);
    return new Response("{}");
  });
  const redirector = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.body?.cancel();
    return new Response(null, {
      status: 307,
      headers: { location: `http://127.0.0.1:${other.addr.port}${new URL(req.url).pathname}` },
    });
  });
  try {
    const base = `http://127.0.0.1:${redirector.addr.port}`;
    const store = new RestStore({
      uri: base,
      credentials: { kind: "basic", username: "secret", password: "secret" },
    });
    await assert.rejects(
      () => store.setModelVersionTag("m", "1", "k", "v"),
      (e: unknown) =>
        e instanceof MlflowRequestError && e.status === 307 && e.errorCode === "REDIRECT_REFUSED" &&
        e.endpoint === "POST /api/2.0/mlflow/model-versions/set-tag" &&
        e.message ===
          `Cannot set tag "k" of model "m" version 1 at ${base}: the server redirects (HTTP 307) ` +
            `to http://127.0.0.1:${other.addr.port}; credentials and data are sent only to the ` +
            "configured tracking URI, so set it to the address the server redirects to",
    );
    await assert.rejects(
      () => store.updateModelVersionDescription("m", "1", "why"),
      (e: unknown) =>
        e instanceof MlflowRequestError && e.errorCode === "REDIRECT_REFUSED" &&
        e.endpoint === "PATCH /api/2.0/mlflow/model-versions/update",
    );
    assert.deepEqual(seen, []);
  } finally {
    await other.shutdown();
    await redirector.shutdown();
  }
});
