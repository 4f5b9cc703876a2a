/**
 * The PNG plots in the browser: the same renderer (resvg wasm, DejaVu Sans) bundled for the
 * page as the demo is (`deno bundle --platform browser`) and run in headless Chromium makes
 * byte-identical PNGs to Deno's.
 */
import assert from "#assert";
import { openBrowser, skipUnlessChromium } from "../web/_browser.ts";
import { buildEvaluationBundle } from "../../src/report/evaluation_bundle.ts";
import { denoSvgRasterizer, pngAssetPaths } from "../../src/report/png_assets_deno.ts";
import { addPngPlots } from "../../src/report/png_plots.ts";
import { pngTestInput } from "./_png_input.ts";

const ignore = await skipUnlessChromium();
const ROOT = new URL("../../", import.meta.url).pathname;

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test({
  name: "PNG plots rendered in Chromium equal Deno's, byte for byte",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "png_browser_" });
    const bundled = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform",
        "browser",
        "--format",
        "esm",
        "--config",
        `${ROOT}deno.json`,
        `${ROOT}tests/report/_png_browser_entry.ts`,
        "-o",
        `${dir}/entry.js`,
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(bundled.success, new TextDecoder().decode(bundled.stderr));
    const paths = pngAssetPaths();
    const files: Record<string, [string, string]> = {
      "/": [`${dir}/index.html`, "text/html"],
      "/entry.js": [`${dir}/entry.js`, "text/javascript"],
      "/resvg.wasm": [paths.wasm, "application/wasm"],
      "/font.ttf": [paths.font, "font/ttf"],
    };
    await Deno.writeTextFile(
      `${dir}/index.html`,
      `<!doctype html><meta charset="utf-8"><script type="module" src="/entry.js"></script>`,
    );
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const file = files[new URL(req.url).pathname];
      if (!file) return new Response("not found", { status: 404 });
      return new Response(await Deno.readFile(file[0]), { headers: { "content-type": file[1] } });
    });
    const browser = await openBrowser(dir, { webgpu: false });
    try {
      await browser.page.goto(`http://127.0.0.1:${server.addr.port}/`);
      await browser.page.waitForFunction(() => "renderPngs" in globalThis);
      const inPage = await browser.page.evaluate(() =>
        (globalThis as unknown as { renderPngs: () => Promise<Record<string, string>> })
          .renderPngs()
      );
      const bundle = buildEvaluationBundle(pngTestInput());
      const names = addPngPlots(bundle.files, await denoSvgRasterizer());
      const inDeno: Record<string, string> = {};
      for (const name of names) inDeno[name] = await sha256(bundle.files.get(name)!);
      assert.ok(names.length >= 4, browser.console.join("\n"));
      assert.deepEqual(inPage, inDeno, browser.console.join("\n"));
    } finally {
      await browser.close();
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
