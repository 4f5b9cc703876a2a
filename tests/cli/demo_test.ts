/**
 * `deno task demo` as a real process: its temporary bundle folder is gone after Ctrl-C
 * (SIGINT), after SIGTERM while it is still bundling, and a port clash is reported, naming
 * the port, before any bundling starts.
 */
import assert from "#assert";
import { bundleDirs, spawnDemo, startDemoProcess } from "../web/_demo_process.ts";

Deno.test({
  name: "deno task demo removes its temp bundle folder on SIGINT, and on SIGTERM mid-bundling",
  sanitizeResources: false,
  async fn(t) {
    const tmp = await Deno.makeTempDir({ prefix: "demo-cli-" });
    try {
      await t.step("SIGINT while serving", async () => {
        const demo = await startDemoProcess([], { tmpDir: tmp });
        assert.equal(bundleDirs(tmp).length, 1, "no bundle folder while serving");
        const page = await fetch(demo.url);
        await page.body?.cancel();
        assert.equal(page.status, 200);
        const { code, output } = await demo.stop("SIGINT");
        assert.equal(code, 0, output);
        assert.deepEqual(bundleDirs(tmp), []);
      });
      await t.step("SIGTERM while bundling", async () => {
        const { child, output, exited } = spawnDemo(["--port", "0"], { tmpDir: tmp });
        const deadline = Date.now() + 120_000;
        while (bundleDirs(tmp).length === 0 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.equal(bundleDirs(tmp).length, 1, `no bundle folder appeared:\n${output()}`);
        child.kill("SIGTERM");
        const status = await exited;
        assert.ok(!output().includes("Component X demo:"), "it finished bundling first");
        assert.equal(status.code, 0, output());
        assert.deepEqual(bundleDirs(tmp), []);
      });
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test("deno task demo names a port in use and exits before bundling anything", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "demo-cli-" });
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (taken.addr as Deno.NetAddr).port;
    const { output, exited } = spawnDemo(["--port", String(port)], { tmpDir: tmp });
    const status = await exited;
    assert.equal(status.code, 1);
    assert.match(
      output(),
      new RegExp(
        `^demo: Cannot serve the demo on 127\\.0\\.0\\.1:${port}: the port is in use \\(another ` +
          `demo\\?\\); pick another with --port N, or --port 0 for any free one\\n$`,
      ),
    );
    assert.deepEqual([...Deno.readDirSync(tmp)], [], "it created files before checking the port");
  } finally {
    taken.close();
    await Deno.remove(tmp, { recursive: true });
  }
});
