/**
 * The bundle's self-contained `index.html`.
 *
 * @module
 */
import type { ClassificationReport, ClassReportRow } from "../metrics/metrics.ts";
import type { SummaryMetrics } from "./summary_metrics.ts";
import { escapeXml } from "./_svg.ts";

/** What {@link evaluationIndexHtml} shows. */
export interface EvaluationPage {
  summary: SummaryMetrics;
  report: ClassificationReport;
  /** The min-expected-cost rule's report; null without a cost matrix. */
  reportMinCost: ClassificationReport | null;
  /** SVG documents keyed by file name; they are inlined, so the page stands alone. */
  svgs: Record<string, string>;
  meta: Record<string, string>;
  files: readonly string[];
}

const f4 = (v: number | null): string => (v === null ? "n/a" : v.toFixed(4));
const int = (v: number): string => v.toLocaleString("en-US");

function reportTable(
  report: ClassificationReport,
  caption: string,
  classNames: readonly string[],
): string {
  const rows = Object.entries(report)
    .filter(([key, v]) => key !== "accuracy" && typeof v !== "number")
    .map(([key, v]) => {
      const r = v as ClassReportRow;
      const c = classNames.indexOf(key);
      const name = c >= 0 && key !== String(c) ? `${c} (${key})` : key;
      return `<tr><th>${escapeXml(name)}</th><td>${f4(r.precision)}</td><td>${f4(r.recall)}</td>` +
        `<td>${f4(r["f1-score"])}</td><td>${int(r.support)}</td></tr>`;
    });
  return `<table><caption>${escapeXml(caption)}</caption>
<tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>
${rows.join("\n")}
<tr><th>accuracy</th><td colspan="3">${f4(report.accuracy)}</td><td></td></tr>
</table>`;
}

/** The summary table: each rule beside the always-majority baseline. */
function summaryTable(s: SummaryMetrics): string {
  const withCost = s.total_cost !== undefined;
  const verdict = (ok: boolean | undefined) => (ok ? ' class="good"' : ' class="bad"');
  const argmax = verdict(s.argmax_beats_baseline);
  const minCost = verdict(s.min_cost_beats_baseline);
  const cols = (a: string, m: string | null, b: string, aClass = "", mClass = "") =>
    `<td${aClass}>${a}</td>` + (withCost ? `<td${mClass}>${m ?? ""}</td>` : "") + `<td>${b}</td>`;
  const baseline = `always ${
    escapeXml(s.class_names[s.baseline_class] ?? String(s.baseline_class))
  }`;
  const rows = [
    `<tr><th>metric</th><th>argmax</th>${
      withCost ? `<th>min expected cost (${s.min_cost_probabilities} probabilities)</th>` : ""
    }<th>${baseline} (majority)</th></tr>`,
    `<tr><th>macro F1</th>${
      cols(
        f4(s.macro_f1),
        f4(s.min_cost_macro_f1 ?? null),
        f4(s.baseline_macro_f1),
        argmax,
        minCost,
      )
    }</tr>`,
  ];
  if (withCost) {
    rows.push(
      `<tr><th>total cost</th>${
        cols(
          int(s.total_cost!),
          int(s.min_cost_total_cost!),
          int(s.baseline_total_cost!),
          argmax,
          minCost,
        )
      }</tr>`,
    );
  }
  rows.push(
    `<tr><th>beats the baseline${withCost ? " (macro F1 and cost)" : " (macro F1)"}</th>${
      cols(
        s.argmax_beats_baseline ? "yes" : "no",
        s.min_cost_beats_baseline ? "yes" : "no",
        "",
        argmax,
        minCost,
      )
    }</tr>`,
    `<tr><th>weighted F1</th>${
      cols(f4(s.weighted_f1), f4(s.min_cost_weighted_f1 ?? null), "")
    }</tr>`,
    `<tr><th>accuracy</th>${
      cols(f4(s.accuracy), f4(s.min_cost_accuracy ?? null), f4(s.baseline_accuracy))
    }</tr>`,
  );
  const span = withCost ? 2 : 1;
  const wide = (name: string, value: string) =>
    `<tr><th>${name}</th><td colspan="${span}">${value}</td><td></td></tr>`;
  if (s.positive_class !== undefined) {
    const pos = escapeXml(s.class_names[s.positive_class]);
    rows.push(
      wide(`ROC AUC (positive class ${pos})`, f4(s.roc_auc ?? null)),
      wide(`average precision (positive class ${pos})`, f4(s.average_precision ?? null)),
    );
  }
  rows.push(
    wide("macro ROC AUC", f4(s.macro_roc_auc)),
    wide("macro average precision", f4(s.macro_average_precision)),
  );
  return `<table><caption>Summary (green: the rule beats the always-majority baseline in ${
    withCost ? "both macro F1 and cost" : "macro F1"
  })</caption>
${rows.join("\n")}
</table>`;
}

/** Calibration before and after temperature scaling. */
function calibrationTable(s: SummaryMetrics): string {
  const after = s.temperature !== null && s.calibrated_ece !== undefined;
  return `<table><caption>Calibration (top-label ECE, mean NLL)</caption>
<tr><th></th><th>model</th>${
    after ? `<th>temperature-scaled (T = ${s.temperature!.toFixed(4)})</th>` : ""
  }</tr>
<tr><th>ECE</th><td>${f4(s.ece)}</td>${after ? `<td>${f4(s.calibrated_ece!)}</td>` : ""}</tr>
<tr><th>NLL</th><td>${f4(s.nll)}</td>${after ? `<td>${f4(s.calibrated_nll!)}</td>` : ""}</tr>
${
    after
      ? ""
      : `<tr><td colspan="2">no temperature in the checkpoint: probabilities are uncalibrated</td></tr>`
  }
</table>`;
}

/** Renders the bundle's `index.html`: summary, reports and every plot, self-contained. */
export function evaluationIndexHtml(page: EvaluationPage): string {
  const s = page.summary;
  const figure = (name: string) =>
    page.svgs[name] === undefined
      ? ""
      : `<figure>${page.svgs[name]}<figcaption><a href="${name}">${name}</a></figcaption></figure>`;
  const meta = Object.entries(page.meta).map(([k, v]) =>
    `<tr><th>${escapeXml(k)}</th><td>${escapeXml(v)}</td></tr>`
  );
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
<tr><th>task</th><td>${escapeXml(s.task)} (${s.num_classes} classes)</td></tr>
<tr><th>windows</th><td>${int(s.n_samples)}</td></tr>
<tr><th>label counts</th><td>${s.label_counts.join(" / ")}</td></tr></table>
${summaryTable(s)}
${calibrationTable(s)}
<h2>Confusion matrices</h2>
<div class="plots">${figure("confusion_matrix.svg")}${figure("confusion_matrix_normalized.svg")}${
    figure("confusion_matrix_min_cost.svg")
  }</div>
<h2>Curves and calibration</h2>
<div class="plots">${figure("roc_curves.svg")}${figure("pr_curves.svg")}${
    figure("reliability.svg")
  }</div>
<h2>Classification reports</h2>
${reportTable(page.report, "argmax rule", s.class_names)}
${
    page.reportMinCost
      ? reportTable(page.reportMinCost, "min-expected-cost rule", s.class_names)
      : ""
  }
<h2>Files</h2>
<ul>${page.files.map((f) => `<li><a href="${f}">${f}</a></li>`).join("")}</ul>
</body>
</html>
`;
}
