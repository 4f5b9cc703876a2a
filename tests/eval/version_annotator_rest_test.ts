import assert from "#assert";
import { RestVersionAnnotator } from "../../src/eval/version_annotator_rest.ts";

Deno.test("RestVersionAnnotator never follows a redirect: the other host sees neither credentials nor data", async () => {
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
    const annotator = new RestVersionAnnotator(`http://127.0.0.1:${redirector.addr.port}`, {
      headers: { Authorization: "Basic c2VjcmV0OnNlY3JldA==" },
    });
    await assert.rejects(() => annotator.annotate("m", "1", { k: "v" }, ""), {
      name: "Error",
      message: `Cannot POST model-versions/set-tag on http://127.0.0.1:${redirector.addr.port}: ` +
        "the server redirects (HTTP 307); credentials and data are sent only to the configured " +
        "tracking URI",
    });
    assert.deepEqual(seen, []);
  } finally {
    await other.shutdown();
    await redirector.shutdown();
  }
});
