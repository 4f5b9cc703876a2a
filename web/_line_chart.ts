/**
 * A small SVG line chart for per-epoch curves (no chart library: a few dozen points).
 *
 * @module
 */

/** One line of a chart. */
export interface ChartSeries {
  readonly name: string;
  readonly color: string;
  /** One value per epoch (epoch 1 first); non-finite values are skipped. */
  readonly values: readonly number[];
}

/** Fixed axis bounds; unset ones follow the data. */
export interface ChartOptions {
  readonly yMin?: number;
  readonly yMax?: number;
}

const WIDTH = 360;
const HEIGHT = 200;
const PAD = { left: 44, right: 10, top: 22, bottom: 26 };

function fmt(value: number): string {
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 0.01 || abs >= 1000)) return value.toExponential(1);
  return value.toFixed(abs < 1 ? 3 : 2);
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Draws the series into `svg` (replacing its content); x = epoch 1..n. */
export function renderLineChart(
  svg: SVGSVGElement,
  series: readonly ChartSeries[],
  options: ChartOptions = {},
): void {
  const all = series.flatMap((s) => s.values.filter(Number.isFinite));
  const epochs = Math.max(1, ...series.map((s) => s.values.length));
  let lo = options.yMin ?? (all.length ? Math.min(...all) : 0);
  let hi = options.yMax ?? (all.length ? Math.max(...all) : 1);
  if (hi - lo < 1e-9) {
    hi += 0.5;
    lo -= 0.5;
  }
  const x = (epoch: number) =>
    PAD.left + (epochs === 1 ? 0.5 : (epoch - 1) / (epochs - 1)) *
      (WIDTH - PAD.left - PAD.right);
  const y = (v: number) => PAD.top + (1 - (v - lo) / (hi - lo)) * (HEIGHT - PAD.top - PAD.bottom);

  const parts: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const v = lo + (hi - lo) * (i / 4);
    parts.push(
      `<line x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${y(v)}" y2="${y(v)}" ` +
        `stroke="#e3e7ee"/>`,
      `<text x="${PAD.left - 4}" y="${y(v) + 3}" font-size="9" text-anchor="end" ` +
        `fill="#5d6778">${fmt(v)}</text>`,
    );
  }
  const step = Math.max(1, Math.ceil(epochs / 10));
  for (let e = 1; e <= epochs; e += step) {
    parts.push(
      `<text x="${x(e)}" y="${HEIGHT - PAD.bottom + 12}" font-size="9" text-anchor="middle" ` +
        `fill="#5d6778">${e}</text>`,
    );
  }
  parts.push(
    `<text x="${WIDTH - PAD.right}" y="${HEIGHT - 4}" font-size="9" text-anchor="end" ` +
      `fill="#5d6778">epoch</text>`,
  );
  series.forEach((s, index) => {
    const points = s.values
      .map((v, i) => [i + 1, v] as const)
      .filter(([, v]) => Number.isFinite(v));
    if (points.length > 1) {
      const d = points.map(([e, v]) => `${x(e).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
      parts.push(`<polyline points="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    }
    for (const [e, v] of points) {
      parts.push(
        `<circle cx="${x(e).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${s.color}">` +
          `<title>${escapeXml(s.name)} epoch ${e}: ${fmt(v)}</title></circle>`,
      );
    }
    const lx = PAD.left + 4 + index * 110;
    parts.push(
      `<rect x="${lx}" y="6" width="10" height="3" fill="${s.color}"/>`,
      `<text x="${lx + 14}" y="11" font-size="10" fill="#1d2430">${escapeXml(s.name)}</text>`,
    );
  });
  svg.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
  svg.innerHTML = parts.join("");
}
