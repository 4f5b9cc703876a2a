import type { ConfusionMatrix } from "../metrics/metrics.ts";
import type { CurvesJson } from "../metrics/one_vs_rest.ts";
import type { Reliability } from "../metrics/reliability.ts";
import {
  escapeXml,
  frame,
  legend,
  PALETTE,
  polyline,
  px,
  svgOpen,
  toPx,
  unitAxes,
} from "./_svg.ts";

/**
 * How plots and tables name class `c`: its index, with the task's name beside it when the
 * name is not just the index (`3 (12 to 6 steps)`, `3`).
 */
export function classLabel(c: number, classNames?: readonly string[]): string {
  const name = classNames?.[c];
  return name === undefined || name === String(c) ? String(c) : `${c} (${name})`;
}

/** White to dark blue; `t` in [0, 1]. */
function blues(t: number): string {
  const lerp = (a: number, b: number) => Math.round(a + (b - a) * t);
  return `rgb(${lerp(247, 8)},${lerp(251, 48)},${lerp(255, 107)})`;
}

/**
 * The confusion matrix as an SVG heatmap (rows = true class, columns = predicted).
 * `normalize: "true"` shows each row as fractions of its support, like scikit-learn's
 * `ConfusionMatrixDisplay(normalize="true")`; counts are shaded on a log scale so the
 * minority classes stay visible next to thousands of class-0 windows.
 */
export function confusionMatrixSvg(
  confusion: ConfusionMatrix,
  options: { title?: string; normalize?: "true"; classNames?: readonly string[] } = {},
): string {
  const k = confusion.length;
  const className = (c: number) => classLabel(c, options.classNames);
  const cell = Math.max(40, Math.min(70, Math.floor(350 / k)));
  const longest = Math.max(...Array.from({ length: k }, (_, c) => className(c).length));
  const left = Math.max(110, Math.round(30 + longest * 6.6));
  const top = 74;
  const width = left + k * cell + 30;
  const height = top + k * cell + 60;
  const title = options.title ??
    (options.normalize ? "Confusion matrix (row-normalised)" : "Confusion matrix (counts)");
  const rowSums = confusion.map((r) => r.reduce((a, b) => a + b, 0));
  const maxCount = Math.max(1, ...confusion.flat());
  const parts = [svgOpen(width, height, title)];
  parts.push(
    `<text x="${px(width / 2)}" y="22" text-anchor="middle" font-size="15" font-weight="600">${
      escapeXml(title)
    }</text>`,
    `<text x="${px(left + (k * cell) / 2)}" y="${
      top - 34
    }" text-anchor="middle">Predicted class</text>`,
    `<text transform="translate(18 ${
      px(top + (k * cell) / 2)
    }) rotate(-90)" text-anchor="middle">True class</text>`,
  );
  for (let i = 0; i < k; i++) {
    parts.push(
      `<text x="${px(left + i * cell + cell / 2)}" y="${top - 10}" text-anchor="middle">${
        escapeXml(className(i).length * 6.6 > cell ? String(i) : className(i))
      }</text>`,
      `<text x="${left - 8}" y="${px(top + i * cell + cell / 2 + 4)}" text-anchor="end">${
        escapeXml(className(i))
      }</text>`,
    );
    for (let j = 0; j < k; j++) {
      const count = confusion[i][j];
      const share = rowSums[i] > 0 ? count / rowSums[i] : 0;
      const t = options.normalize ? share : Math.log1p(count) / Math.log1p(maxCount);
      const label = options.normalize ? (rowSums[i] > 0 ? share.toFixed(2) : "-") : String(count);
      const x = left + j * cell;
      const y = top + i * cell;
      parts.push(
        `<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${
          blues(t)
        }" stroke="#fff"/>`,
        `<text x="${px(x + cell / 2)}" y="${
          px(y + cell / 2 + 5)
        }" text-anchor="middle" font-size="14" ` +
          `fill="${t > 0.55 ? "#fff" : "#111"}">${label}</text>`,
      );
    }
  }
  parts.push(
    `<text x="${left}" y="${height - 16}" fill="#555">${
      escapeXml(
        options.normalize
          ? "Each row sums to 1 (recall on the diagonal)."
          : "Shading: log(1 + count).",
      )
    }</text>`,
    "</svg>",
  );
  return parts.join("\n") + "\n";
}

/**
 * One-vs-rest ROC or PR curves of every class on one plot, with each class's area in the
 * legend. Classes whose curve is undefined (absent from the labels) are listed as such.
 */
export function curvesSvg(
  curves: CurvesJson,
  kind: "roc" | "pr",
  options: { title?: string; classNames?: readonly string[]; classes?: readonly number[] } = {},
): string {
  const shown = Object.entries(curves).filter(([id]) =>
    options.classes === undefined || options.classes.includes(Number(id))
  );
  // The legend goes below the axes: one row per class never hides a curve.
  const rows = shown.length + (kind === "roc" ? 1 : 0);
  const legendHeight = rows * 17 + 20;
  const f = frame(520, 460 + legendHeight, 20, legendHeight);
  const heading = options.title ??
    (kind === "roc" ? "ROC curves (one-vs-rest)" : "Precision-recall curves (one-vs-rest)");
  const parts = [
    kind === "roc"
      ? unitAxes(f, heading, "False positive rate", "True positive rate")
      : unitAxes(f, heading, "Recall", "Precision"),
  ];
  const entries: { label: string; color: string; dash?: boolean }[] = [];
  if (kind === "roc") {
    parts.push(polyline(f, [0, 1], [0, 1], "#999", { dash: true, width: 1 }));
  }
  for (const [id, curve] of shown) {
    const color = PALETTE[Number(id) % PALETTE.length];
    const defined = curve.x.every((v) => v !== null) && curve.y.every((v) => v !== null) &&
      curve.auc !== null;
    const name = classLabel(Number(id), options.classNames);
    if (!defined) {
      entries.push({ label: `${name}: undefined (no positives)`, color: "#ccc" });
      continue;
    }
    parts.push(
      polyline(f, curve.x as number[], curve.y as number[], color, {
        step: kind === "pr" ? "post" : undefined,
      }),
    );
    entries.push({
      label: kind === "roc"
        ? `${name}: AUC ${curve.auc!.toFixed(3)}`
        : `${name}: AP ${(curve.average_precision ?? curve.auc!).toFixed(3)}`,
      color,
    });
  }
  if (kind === "roc") entries.push({ label: "chance", color: "#999", dash: true });
  parts.push(legend(f, entries, "below"), "</svg>");
  return parts.join("\n") + "\n";
}

/**
 * Reliability diagram of the top-label confidence: accuracy against mean confidence per
 * bin (the diagonal is perfect calibration), with the share of samples per bin as bars.
 * With `calibrated`, the temperature-scaled probabilities' curve is drawn beside.
 */
export function reliabilitySvg(
  rel: Reliability,
  options: { title?: string; calibrated?: Reliability; temperature?: number } = {},
): string {
  const cal = options.calibrated;
  // The legend goes below the axes, where no curve can be.
  const legendHeight = (cal ? 4 : 3) * 17 + 20;
  const f = frame(520, 460 + legendHeight, 20, legendHeight);
  const heading = options.title ??
    (cal
      ? `Reliability (top label), ECE ${rel.ece.toFixed(4)} -> ${cal.ece.toFixed(4)}`
      : `Reliability (top label), ECE ${rel.ece.toFixed(4)}`);
  const parts = [unitAxes(f, heading, "Confidence (largest probability)", "Accuracy")];
  const total = rel.counts.reduce((a, b) => a + b, 0);
  for (let b = 0; b < rel.nBins; b++) {
    if (rel.counts[b] === 0) continue;
    const share = rel.counts[b] / Math.max(1, total);
    const [x0, y0] = toPx(f, rel.binEdges[b], share);
    const [x1, yBase] = toPx(f, rel.binEdges[b + 1], 0);
    parts.push(
      `<rect x="${px(x0 + 1)}" y="${px(y0)}" width="${px(x1 - x0 - 2)}" height="${
        px(yBase - y0)
      }" fill="#bab0ac" fill-opacity="0.45"/>`,
    );
  }
  parts.push(polyline(f, [0, 1], [0, 1], "#999", { dash: true, width: 1 }));
  const curve = (r: Reliability, color: string) => {
    const xs: number[] = [];
    const ys: number[] = [];
    for (let b = 0; b < r.nBins; b++) {
      if (r.counts[b] === 0) continue;
      xs.push(r.meanConfidence[b]!);
      ys.push(r.accuracy[b]!);
    }
    parts.push(polyline(f, xs, ys, color));
    for (let i = 0; i < xs.length; i++) {
      const [cx, cy] = toPx(f, xs[i], ys[i]);
      parts.push(`<circle cx="${px(cx)}" cy="${px(cy)}" r="3.5" fill="${color}"/>`);
    }
  };
  curve(rel, PALETTE[0]);
  if (cal) curve(cal, PALETTE[1]);
  const t = options.temperature;
  parts.push(
    legend(f, [
      { label: cal ? "accuracy per bin, model" : "accuracy per bin", color: PALETTE[0] },
      ...(cal
        ? [{
          label: `calibrated${t === undefined ? "" : ` (T = ${t.toFixed(3)})`}`,
          color: PALETTE[1],
        }]
        : []),
      { label: "perfect calibration", color: "#999", dash: true },
      { label: "share of samples (bars, model)", color: "#bab0ac" },
    ], "below"),
    "</svg>",
  );
  return parts.join("\n") + "\n";
}
