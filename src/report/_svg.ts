/**
 * Private: the few SVG primitives the evaluation plots need. All line plots share fixed
 * [0, 1] x [0, 1] axes, so there is no scale or tick inference to do.
 */

/** Tableau 10, the default categorical palette of matplotlib and Vega. */
export const PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
];

/** Escapes text for XML/HTML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

/** Rounds a coordinate to 0.01 px so files stay small and deterministic. */
export const px = (v: number): string => String(Math.round(v * 100) / 100);

/** Plot frame geometry: the data area inside margins. */
export interface Frame {
  width: number;
  height: number;
  left: number;
  top: number;
  plotWidth: number;
  plotHeight: number;
}

/** A frame of the given outer size with room for axis labels and a title. */
export function frame(width: number, height: number, right = 20, extraBottom = 0): Frame {
  const left = 62;
  const top = 40;
  const bottom = 52 + extraBottom;
  return {
    width,
    height,
    left,
    top,
    plotWidth: width - left - right,
    plotHeight: height - top - bottom,
  };
}

/** Maps unit-square data coordinates to pixels. */
export function toPx(f: Frame, x: number, y: number): [number, number] {
  return [f.left + x * f.plotWidth, f.top + (1 - y) * f.plotHeight];
}

/** Opening tag, background, title and the [0, 1] axes with grid, ticks and labels. */
export function unitAxes(f: Frame, title: string, xLabel: string, yLabel: string): string {
  const parts: string[] = [svgOpen(f.width, f.height, title)];
  parts.push(
    `<text x="${px(f.width / 2)}" y="22" text-anchor="middle" font-size="15" font-weight="600">${
      escapeXml(title)
    }</text>`,
  );
  for (let i = 0; i <= 5; i++) {
    const v = i / 5;
    const [gx] = toPx(f, v, 0);
    const [, gy] = toPx(f, 0, v);
    parts.push(
      `<line x1="${px(gx)}" y1="${f.top}" x2="${px(gx)}" y2="${
        f.top + f.plotHeight
      }" stroke="#e5e5e5"/>`,
      `<line x1="${f.left}" y1="${px(gy)}" x2="${f.left + f.plotWidth}" y2="${
        px(gy)
      }" stroke="#e5e5e5"/>`,
      `<text x="${px(gx)}" y="${f.top + f.plotHeight + 16}" text-anchor="middle">${
        v.toFixed(1)
      }</text>`,
      `<text x="${f.left - 6}" y="${px(gy + 4)}" text-anchor="end">${v.toFixed(1)}</text>`,
    );
  }
  parts.push(
    `<rect x="${f.left}" y="${f.top}" width="${f.plotWidth}" height="${f.plotHeight}" fill="none" stroke="#333"/>`,
    `<text x="${px(f.left + f.plotWidth / 2)}" y="${
      f.top + f.plotHeight + 40
    }" text-anchor="middle">${escapeXml(xLabel)}</text>`,
    `<text transform="translate(16 ${px(f.top + f.plotHeight / 2)}) rotate(-90)" ` +
      `text-anchor="middle">${escapeXml(yLabel)}</text>`,
  );
  return parts.join("\n");
}

/** `<svg>` opening tag with a white background and an accessible title. */
export function svgOpen(width: number, height: number, title: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12" ` +
    `role="img" aria-label="${escapeXml(title)}">\n<title>${escapeXml(title)}</title>\n` +
    `<rect width="${width}" height="${height}" fill="#fff"/>`;
}

/**
 * A polyline through unit-square points. `step: "post"` holds each y until the next x
 * (matplotlib's `drawstyle="steps-post"`, the precision-recall staircase). Points that
 * fall on the same pixel, or in the middle of a horizontal or vertical run, are dropped:
 * a precision-recall curve has one point per distinct score.
 */
export function polyline(
  f: Frame,
  xs: readonly number[],
  ys: readonly number[],
  color: string,
  options: { dash?: boolean; step?: "post"; width?: number } = {},
): string {
  const raw: [number, number][] = [];
  for (let i = 0; i < xs.length; i++) {
    if (options.step === "post" && i > 0) raw.push(toPx(f, xs[i], ys[i - 1]));
    raw.push(toPx(f, xs[i], ys[i]));
  }
  const pts: [number, number][] = [];
  const round = (v: number) => Math.round(v * 10) / 10;
  for (const [x, y] of raw.map(([x, y]) => [round(x), round(y)] as [number, number])) {
    const last = pts[pts.length - 1];
    if (last && last[0] === x && last[1] === y) continue;
    const prev = pts[pts.length - 2];
    if (
      prev && last &&
      ((prev[0] === last[0] && last[0] === x) || (prev[1] === last[1] && last[1] === y))
    ) {
      pts[pts.length - 1] = [x, y];
      continue;
    }
    pts.push([x, y]);
  }
  return `<polyline points="${pts.map(([x, y]) => `${x},${y}`).join(" ")}" fill="none" ` +
    `stroke="${color}" stroke-width="${options.width ?? 2}"${
      options.dash ? ' stroke-dasharray="5 4"' : ""
    }/>`;
}

/** A legend box in one corner of the plot area, or below it (`frame`'s `extraBottom`). */
export function legend(
  f: Frame,
  entries: readonly { label: string; color: string; dash?: boolean }[],
  corner: "lower-right" | "upper-right" | "lower-left" | "upper-left" | "below" = "lower-right",
): string {
  const rowH = 17;
  const w = 10 + Math.max(...entries.map((e) => e.label.length)) * 6.6 + 34;
  const h = entries.length * rowH + 10;
  const x = corner === "below" || corner.endsWith("left")
    ? f.left + 8
    : f.left + f.plotWidth - w - 8;
  const y = corner === "below"
    ? f.top + f.plotHeight + 52
    : corner.startsWith("upper")
    ? f.top + 8
    : f.top + f.plotHeight - h - 8;
  const parts = [
    `<rect x="${px(x)}" y="${px(y)}" width="${
      px(w)
    }" height="${h}" fill="#fff" fill-opacity="0.9" stroke="#bbb"/>`,
  ];
  entries.forEach((e, i) => {
    const cy = y + 5 + rowH * i + rowH / 2;
    parts.push(
      `<line x1="${px(x + 8)}" y1="${px(cy)}" x2="${px(x + 30)}" y2="${
        px(cy)
      }" stroke="${e.color}" ` +
        `stroke-width="2"${e.dash ? ' stroke-dasharray="5 4"' : ""}/>`,
      `<text x="${px(x + 36)}" y="${px(cy + 4)}">${escapeXml(e.label)}</text>`,
    );
  });
  return parts.join("\n");
}
