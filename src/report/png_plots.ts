/**
 * PNG copies of the bundle's SVG plots (the PyTorch pipeline's bundles had PNGs, which the
 * MLflow UI and any image viewer show), rasterised by resvg (`@resvg/resvg-wasm`, the Rust
 * SVG renderer compiled to WebAssembly) with the DejaVu Sans font, so the text looks the
 * same everywhere: no system fonts are read. Browser-safe: the caller brings the `.wasm`
 * and font bytes (`png_assets_deno.ts` finds them in Deno; a page fetches them).
 *
 * @module
 */
import { initWasm, Resvg } from "@resvg/resvg-wasm";

/** The two binary assets resvg needs. */
export interface PngAssets {
  /** `@resvg/resvg-wasm`'s `index_bg.wasm` (bytes, or a fetch of it). */
  readonly wasm: Uint8Array | Response | Promise<Response>;
  /** A TrueType font (DejaVu Sans) for every text of the plots. */
  readonly font: Uint8Array;
}

/** Renders one SVG document as PNG bytes. */
export type SvgRasterizer = (svg: string) => Uint8Array;

let started: Promise<void> | null = null;

/**
 * A rasteriser at 2x the SVG's size (crisp on high-density screens). resvg's WebAssembly is
 * initialised once per realm; later calls reuse it.
 *
 * @example
 * ```ts
 * const toPng = await svgRasterizer(await pngAssets());
 * const png = toPng(svgText);
 * ```
 */
export async function svgRasterizer(assets: PngAssets, scale = 2): Promise<SvgRasterizer> {
  started ??= initWasm(await assets.wasm).catch((e) => {
    started = null;
    throw new Error(`Cannot start the PNG renderer (resvg wasm): ${(e as Error).message}`, {
      cause: e,
    });
  });
  await started;
  const font = {
    fontBuffers: [assets.font],
    loadSystemFonts: false,
    defaultFontFamily: "DejaVu Sans",
    sansSerifFamily: "DejaVu Sans",
  };
  return (svg) => {
    const resvg = new Resvg(svg, { font, fitTo: { mode: "zoom", value: scale } });
    try {
      const image = resvg.render();
      try {
        return image.asPng();
      } finally {
        image.free();
      }
    } finally {
      resvg.free();
    }
  };
}

/**
 * Adds `<name>.png` beside every `<name>.svg` of a bundle's files (the same map, so the
 * PNGs are written and logged wherever the SVGs are). Returns the names added.
 */
export function addPngPlots(files: Map<string, Uint8Array>, toPng: SvgRasterizer): string[] {
  const added: string[] = [];
  const decoder = new TextDecoder();
  for (const [name, bytes] of [...files]) {
    if (!name.endsWith(".svg")) continue;
    const png = name.replace(/\.svg$/, ".png");
    try {
      files.set(png, toPng(decoder.decode(bytes)));
    } catch (cause) {
      throw new Error(`Cannot rasterise ${name} to ${png}: ${(cause as Error).message}`, {
        cause,
      });
    }
    added.push(png);
  }
  return added;
}
