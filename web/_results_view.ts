/**
 * Renders the end-of-training results: the confusion matrix (with a heat scale per true
 * row) and the per-class precision / recall / F1 table.
 *
 * @module
 */
import {
  type ClassificationReport,
  type ClassReportRow,
  type ConfusionMatrix,
  totalCost,
} from "../src/metrics/metrics.ts";
import type { Task } from "../src/metrics/task.ts";
import { classLabel } from "../src/report/plots.ts";
import { escapeHtml } from "./_page.ts";

function cell(tag: "td" | "th", text: string, attrs: Record<string, string> = {}): string {
  const attributes = Object.entries(attrs).map(([k, v]) => ` ${k}="${v}"`).join("");
  return `<${tag}${attributes}>${text}</${tag}>`;
}

/**
 * Fills `table` with the confusion matrix; each cell carries `data-count`. The total cost
 * under the task's cost matrix is the caption, when the task has one.
 */
export function renderConfusionMatrix(
  table: HTMLTableElement,
  confusion: ConfusionMatrix,
  task: Task,
): void {
  const k = confusion.length;
  const head = cell("th", "true \\ pred") +
    Array.from(
      { length: k },
      (_, j) => cell("th", String(j), { title: escapeHtml(classLabel(j, task.classNames)) }),
    ).join("") +
    cell("th", "n");
  const rows = confusion.map((row, i) => {
    const n = row.reduce((a, b) => a + b, 0);
    const cells = row.map((count, j) => {
      const share = n > 0 ? count / n : 0;
      const hue = i === j ? 140 : 0;
      const style = count > 0
        ? `background: hsla(${hue}, 60%, 45%, ${(0.12 + 0.6 * share).toFixed(2)})`
        : "";
      return cell("td", String(count), {
        "data-count": String(count),
        "data-true": String(i),
        "data-pred": String(j),
        style,
        title: `true ${i}, predicted ${j}: ${count} (${(100 * share).toFixed(1)}% of row)`,
      });
    }).join("");
    return `<tr>${cell("th", escapeHtml(classLabel(i, task.classNames)))}${cells}${
      cell("th", String(n))
    }</tr>`;
  });
  const cost = task.costMatrix ? totalCost(confusion, task.costMatrix) : null;
  table.innerHTML = `<thead><tr>${head}</tr></thead><tbody>${rows.join("")}</tbody>` +
    (cost === null
      ? ""
      : `<caption>total cost (${escapeHtml(task.name)} cost matrix): ${
        cost.toLocaleString("en")
      }</caption>`);
}

/** Fills `table` with per-class precision, recall, F1 and support, then the averages. */
export function renderPerClassTable(
  table: HTMLTableElement,
  report: ClassificationReport,
  classNames: readonly string[],
): void {
  const row = (name: string, r: ClassReportRow) =>
    `<tr>${cell("th", name)}${cell("td", r.precision.toFixed(3))}` +
    `${cell("td", r.recall.toFixed(3))}${
      cell("td", r["f1-score"].toFixed(3), { "data-f1": String(r["f1-score"]) })
    }${cell("td", String(r.support))}</tr>`;
  table.innerHTML =
    `<thead><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th>` +
    `</tr></thead><tbody>` +
    classNames.map((key, c) =>
      row(escapeHtml(classLabel(c, classNames)), report[key] as ClassReportRow)
    ).join("") +
    row("macro avg", report["macro avg"]) + row("weighted avg", report["weighted avg"]) +
    `<tr>${cell("th", "accuracy")}${cell("td", report.accuracy.toFixed(3))}` +
    `<td></td><td></td><td></td></tr></tbody>`;
}
