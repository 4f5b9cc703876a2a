/** Bundled for Chromium by png_plots_browser_test.ts: the bundle's PNGs, made in the page. */
import { buildEvaluationBundle } from "../../src/report/evaluation_bundle.ts";
import { addPngPlots, svgRasterizer } from "../../src/report/png_plots.ts";
import { pngTestInput } from "./_png_input.ts";

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

(globalThis as unknown as { renderPngs: () => Promise<Record<string, string>> }).renderPngs =
  async () => {
    const font = new Uint8Array(await (await fetch("/font.ttf")).arrayBuffer());
    const toPng = await svgRasterizer({ wasm: fetch("/resvg.wasm"), font });
    const bundle = buildEvaluationBundle(pngTestInput());
    const out: Record<string, string> = {};
    for (const name of addPngPlots(bundle.files, toPng)) {
      out[name] = await sha256(bundle.files.get(name)!);
    }
    return out;
  };
