/**
 * Deno edge of the PNG plots: reads resvg's `.wasm` and the DejaVu Sans font from their npm
 * packages (in Deno's npm cache, found through Node's module resolution).
 *
 * @module
 */
import { createRequire } from "node:module";
// Puts the font package in the module graph, so its files resolve below.
import "dejavu-fonts-ttf/package.json" with { type: "json" };
import { type PngAssets, type SvgRasterizer, svgRasterizer } from "./png_plots.ts";

/** The resvg wasm and font files, as paths. */
export function pngAssetPaths(): { wasm: string; font: string } {
  const require = createRequire(import.meta.url);
  return {
    wasm: require.resolve("@resvg/resvg-wasm/index_bg.wasm"),
    font: require.resolve("dejavu-fonts-ttf/ttf/DejaVuSans.ttf"),
  };
}

/** The assets {@link svgRasterizer} needs, read from the npm packages. */
export async function pngAssets(): Promise<PngAssets> {
  const paths = pngAssetPaths();
  try {
    return { wasm: await Deno.readFile(paths.wasm), font: await Deno.readFile(paths.font) };
  } catch (cause) {
    throw new Error(
      `Cannot read the PNG renderer's files (${paths.wasm}, ${paths.font}): ` +
        `${(cause as Error).message}; run "deno cache cli/evaluate.ts" to fetch them`,
      { cause },
    );
  }
}

let rasterizer: Promise<SvgRasterizer> | null = null;

/** A rasteriser, created once per process. */
export function denoSvgRasterizer(): Promise<SvgRasterizer> {
  rasterizer ??= pngAssets().then((assets) => svgRasterizer(assets));
  return rasterizer;
}
