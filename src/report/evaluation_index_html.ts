/**
 * The bundle's self-contained `index.html`.
 *
 * @module
 */
import type { ClassificationReport, ClassReportRow } from "../metrics/metrics.ts";
import type { SummaryMetrics } from "./summary_metrics.ts";
import { escapeXml } from "./_svg.ts";
import { CLASS_NAMES } from "./plots.ts";

/** What {@link evaluationIndexHtml} shows. */
export interface EvaluationPage {
  summary: SummaryMetrics;
  report: ClassificationReport;
  reportMinCost: ClassificationReport;
  /** SVG documents keyed by file name; they are inlined, so the page stands alone. */
  svgs: Record<string, string>;
  meta: Record<string, string>;
  files: readonly string[];
}

const f4 = (v: number | null): string => (v === null ? "n/a" : v.toFixed(4));
const int = (v: number): string => v.toLocaleString("en-US");

function reportTable(report: ClassificationReport, caption: string): string {
  const rows = Object.entries(report)
    .filter(([key, v]) => key !== "accuracy" && typeof v !== "number")
    .map(([key, v]) => {
      const r = v as ClassReportRow;
      const name = /^\d+$/.test(key) && CLASS_NAMES[Number(key)]
        ? `${key} (${CLASS_NAMES[Number(key)]})`
        : key;
      return `<tr><th>${escapeXml(name)}</th><td>${f4(r.precision)}</td><td>${f4(r.recall)}</td>` +
        `<td>${f4(r["f1-score"])}</td><td>${int(r.support)}</td></tr>`;
    });
  return `<table><caption>${escapeXml(caption)}</caption>
<tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>
${rows.join("\n")}
<tr><th>accuracy</th><td colspan="3">${f4(report.accuracy)}</td><td></td></tr>
</table>`;
}

/** Renders the bundle's `index.html`: summary, reports and every plot, self-contained. */
export function evaluationIndexHtml(page: EvaluationPage): string {
  const s = page.summary;
  const figure = (name: string) =>
    `<figure>${page.svgs[name]}<figcaption><a href="${name}">${name}</a></figcaption></figure>`;
  const meta = Object.entries(page.meta).map(([k, v]) =>
    `<tr><th>${escapeXml(k)}</th><td>${escapeXml(v)}</td></tr>`
  );
  const better = (a: number, b: number, lowerIsBetter = false) =>
    (lowerIsBetter ? a < b : a > b) ? ' class="good"' : ' class="bad"';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Evaluation${page.meta.run ? ` - ${escapeXml(page.meta.run)}` : ""}</title>
<style>
body { font-family: Helvetica, Arial, sans-serif; margin: 24px; color: #222; max-width: 1200px; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 24px 16px 0; display: inline-table; vertical-align: top; }
caption { text-align: left; font-weight: 600; padding-bottom: 4px; }
th, td { border: 1px solid #ddd; padding: 4px 10px; text-align: right; }
th { background: #f6f6f6; text-align: left; }
td.good { color: #1a7f37; font-weight: 600; } td.bad { color: #b42318; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; } figcaption { font-size: 12px; color: #555; }
</style>
</head>
<body>
<h1>Evaluation bundle</h1>
<table><caption>Run</caption>${meta.join("\n")}
<tr><th>windows</th><td>${int(s.n_samples)}</td></tr>
<tr><th>label counts</th><td>${s.label_counts.join(" / ")}</td></tr></table>
<table><caption>Summary (green: beats the always-0 baseline)</caption>
<tr><th>metric</th><th>argmax</th><th>min expected cost</th><th>always 0</th></tr>
<tr><th>macro F1</th><td${better(s.macro_f1, s.baseline_macro_f1)}>${f4(s.macro_f1)}</td>` +
    `<td${better(s.min_cost_macro_f1, s.baseline_macro_f1)}>${f4(s.min_cost_macro_f1)}</td>` +
    `<td>${f4(s.baseline_macro_f1)}</td></tr>
<tr><th>total cost</th><td${better(s.total_cost, s.baseline_total_cost, true)}>${
      int(s.total_cost)
    }</td>` +
    `<td${better(s.min_cost_total_cost, s.baseline_total_cost, true)}>${
      int(s.min_cost_total_cost)
    }</td>` +
    `<td>${int(s.baseline_total_cost)}</td></tr>
<tr><th>weighted F1</th><td>${f4(s.weighted_f1)}</td><td>${
      f4(s.min_cost_weighted_f1)
    }</td><td></td></tr>
<tr><th>accuracy</th><td>${f4(s.accuracy)}</td><td>${f4(s.min_cost_accuracy)}</td><td></td></tr>
<tr><th>macro ROC AUC</th><td colspan="2">${f4(s.macro_roc_auc)}</td><td></td></tr>
<tr><th>macro average precision</th><td colspan="2">${
      f4(s.macro_average_precision)
    }</td><td></td></tr>
<tr><th>ECE (top label)</th><td colspan="2">${f4(s.ece)}</td><td></td></tr>
</table>
<h2>Confusion matrices</h2>
<div class="plots">${figure("confusion_matrix.svg")}${figure("confusion_matrix_normalized.svg")}${
      figure("confusion_matrix_min_cost.svg")
    }</div>
<h2>Curves and calibration</h2>
<div class="plots">${figure("roc_curves.svg")}${figure("pr_curves.svg")}${
      figure("reliability.svg")
    }</div>
<h2>Classification reports</h2>
${reportTable(page.report, "argmax rule")}
${reportTable(page.reportMinCost, "min-expected-cost rule")}
<h2>Files</h2>
<ul>${page.files.map((f) => `<li><a href="${f}">${f}</a></li>`).join("")}</ul>
</body>
</html>
`;
}
