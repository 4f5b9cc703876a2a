/**
 * PNG plots beside the SVGs: resvg's rendering read back by Pillow (what matplotlib, the
 * pipeline's plotting library, uses): the size, and that the axes, curves and the text of
 * the labels (DejaVu Sans, no system fonts) are drawn.
 */
import assert from "#assert";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import { buildEvaluationBundle } from "../../src/report/evaluation_bundle.ts";
import { denoSvgRasterizer } from "../../src/report/png_assets_deno.ts";
import { addPngPlots } from "../../src/report/png_plots.ts";

const ignore = await skipUnlessPython("PIL", "numpy");

const READ = `
import io, json, sys
import numpy as np
from PIL import Image
out = {}
for path in sys.argv[1:]:
    im = Image.open(path).convert("L")
    a = np.asarray(im)
    out[path] = {"size": list(im.size), "dark": int((a < 128).sum()), "format": Image.open(path).format}
print(json.dumps(out))
`;

Deno.test({
  name: "addPngPlots() puts a PNG beside every SVG of the bundle, text and lines drawn",
  ignore,
  async fn() {
    const rows = 60;
    const labels = Array.from({ length: rows }, (_, i) => i % 5);
    const probabilities = labels.map((y, i) =>
      [0, 1, 2, 3, 4].map((c) => (c === y ? 0.6 : 0.1) + (i % 3 === 0 && c === 0 ? 0.0 : 0))
    );
    const bundle = buildEvaluationBundle({ labels, probabilities });
    const svgs = [...bundle.files.keys()].filter((n) => n.endsWith(".svg"));
    assert.ok(svgs.length >= 4, `bundle SVGs ${svgs}`);
    const added = addPngPlots(bundle.files, await denoSvgRasterizer());
    assert.deepEqual(added, svgs.map((n) => n.replace(/\.svg$/, ".png")));
    const dir = await Deno.makeTempDir({ prefix: "png_plots_" });
    try {
      const textOnly = new TextEncoder().encode(
        `<svg xmlns="http://www.w3.org/2000/svg" width="120" height="30" font-family="Helvetica, Arial, sans-serif"><text x="4" y="20" font-size="14">macro F1</text></svg>`,
      );
      const files = new Map([["text.svg", textOnly]]);
      addPngPlots(files, await denoSvgRasterizer());
      const paths: string[] = [];
      for (
        const [name, bytes] of [...bundle.files, ["text.png", files.get("text.png")!] as const]
      ) {
        if (!name.endsWith(".png")) continue;
        await Deno.writeFile(`${dir}/${name}`, bytes);
        paths.push(`${dir}/${name}`);
      }
      const read = await pythonJson<
        Record<string, { size: number[]; dark: number; format: string }>
      >(
        READ,
        { args: paths },
      );
      for (const name of added) {
        const svg = new TextDecoder().decode(bundle.files.get(name.replace(/\.png$/, ".svg")));
        const [w, h] = [/width="(\d+)"/, /height="(\d+)"/].map((r) => Number(r.exec(svg)![1]));
        const png = read[`${dir}/${name}`];
        assert.equal(png.format, "PNG");
        assert.deepEqual(png.size, [2 * w, 2 * h], `${name} is the SVG at 2x`);
        assert.ok(png.dark > 500, `${name} has lines and text (${png.dark} dark pixels)`);
      }
      // The label text alone: drawn with the bundled font, not left out for want of one.
      assert.ok(read[`${dir}/text.png`].dark > 100, `text pixels ${read[`${dir}/text.png`].dark}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
