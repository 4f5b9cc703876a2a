import * as tf from "@tensorflow/tfjs";
import assert from "#assert";
import { openBrowser, skipUnlessChromium } from "../web/_browser.ts";
import { type CpuRun, runCpuCase } from "./_cpu_browser_case.ts";

const ROOT = new URL("../../", import.meta.url);
const ignore = await skipUnlessChromium();

interface Result {
  error?: string;
  isolated: boolean;
  one: CpuRun;
  two: CpuRun;
}

async function bundleEntry(dir: string): Promise<string> {
  const out = `${dir}/entry.js`;
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "browser",
      "--format",
      "esm",
      "--config",
      new URL("deno.json", ROOT).pathname,
      new URL("tests/kernels/_cpu_browser_entry.ts", ROOT).pathname,
      "-o",
      out,
    ],
    cwd: ROOT.pathname,
    stderr: "piped",
  }).output();
  assert.equal(code, 0, `deno bundle failed: ${new TextDecoder().decode(stderr)}`);
  return await Deno.readTextFile(out);
}

/** Serves the bundle on a free loopback port, cross-origin isolated or not. */
function serve(script: string, isolated: boolean) {
  const headers: Record<string, string> = isolated
    ? {
      "cross-origin-opener-policy": "same-origin",
      "cross-origin-embedder-policy": "require-corp",
    }
    : {};
  const page = `<!doctype html><script type="module" src="/entry.js"></script>`;
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/") {
      return new Response(page, { headers: { ...headers, "content-type": "text/html" } });
    }
    if (path === "/entry.js") {
      return new Response(script, { headers: { ...headers, "content-type": "text/javascript" } });
    }
    return new Response("Not Found", { status: 404 });
  });
}

function sameBits(a: CpuRun, b: CpuRun): void {
  assert.deepEqual(a.loss, b.loss);
  assert.equal(a.grads.length, b.grads.length);
  a.grads.forEach((g, i) => assert.deepEqual(g, b.grads[i], `gradient ${i} differs`));
}

Deno.test({
  name:
    "lstmLayerCpu() in Chromium uses 2 threads when cross-origin isolated, 1 otherwise, same bits",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "cpu-kernels-browser-" });
    const script = await bundleEntry(dir);
    const browser = await openBrowser(dir, { webgpu: false });
    const results: Result[] = [];
    try {
      for (const isolated of [true, false]) {
        await t.step(isolated ? "cross-origin isolated" : "not isolated", async () => {
          const server = serve(script, isolated);
          try {
            await browser.page.goto(`http://127.0.0.1:${server.addr.port}/`);
            await browser.page.waitForFunction(() => "result" in globalThis, null, {
              timeout: 120_000,
            });
            const r = await browser.page.evaluate(() =>
              (globalThis as unknown as { result: Result }).result
            );
            assert.equal(r.error, undefined, `page error: ${r.error}`);
            assert.equal(r.isolated, isolated);
            assert.equal(r.one.liveThreads, 1);
            assert.equal(r.two.liveThreads, isolated ? 2 : 1);
            assert.equal(r.two.sharedMemory, isolated);
            sameBits(r.one, r.two);
            results.push(r);
          } finally {
            await server.shutdown();
          }
        });
      }
      sameBits(results[0].two, results[1].two);
      await t.step("Deno gives the same results within 1e-6", async () => {
        await tf.setBackend("cpu");
        const deno = await runCpuCase(2);
        assert.equal(deno.liveThreads, 2);
        const close = (a: number[], b: number[], what: string) =>
          a.forEach((x, i) =>
            assert.ok(Math.abs(x - b[i]) <= 1e-6 * Math.max(1, Math.abs(b[i])), `${what}[${i}]`)
          );
        close(deno.loss, results[0].two.loss, "loss");
        deno.grads.forEach((g, i) => close(g, results[0].two.grads[i], `gradient ${i}`));
      });
    } catch (e) {
      console.error(`--- page console ---\n${browser.console.join("\n")}\n--- end ---`);
      throw e;
    } finally {
      await browser.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
