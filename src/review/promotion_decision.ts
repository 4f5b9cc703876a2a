import { lowerIsBetter, type PromotionMetric } from "../metrics/task.ts";

/**
 * The files a run's evaluation bundle must hold for promotion to count it as attached: the
 * PyTorch pipeline's bundle files (ours add `index.html`, PNG/SVG plots and more).
 */
export const REQUIRED_BUNDLE_FILES: readonly string[] = Object.freeze([
  "summary_metrics.json",
  "classification_report.json",
  "confusion_matrix.csv",
  "roc_curves.json",
  "pr_curves.json",
  "reliability.json",
]);

/** The run currently holding the champion alias. */
export interface ChampionInfo {
  runId: string;
  runName: string;
  version: string;
  /** Its best value of the candidate's promotion metric; null when the run has none logged. */
  value: number | null;
  /** Its `class_names` param (the task's classes as JSON); null when not logged. */
  classNames?: string | null;
}

/** Everything the promotion criteria look at. */
export interface PromotionEvidence {
  runId: string;
  runName: string;
  /** The task's promotion metric (the run's `promotion_metric` param); default `val_macro_f1`. */
  metric?: PromotionMetric;
  /** Best value of the metric the run logged (the epoch its `best` checkpoint comes from). */
  value: number | null;
  /**
   * The always-majority baseline's value of the metric on the same validation labels (the
   * bundle's `baseline_macro_f1`, `baseline_accuracy` or `baseline_total_cost`, or, in a
   * pipeline bundle without them, derived from its `confusion_matrix.csv`).
   */
  baseline: number | null;
  /** The run's `class_names` param (the task's classes as JSON); null when not logged. */
  classNames?: string | null;
  /** Artifact folder of the bundle found on the run (e.g. `evaluations/val_sequences`), or null. */
  bundlePath: string | null;
  /** Files present in that folder. */
  bundleFiles: readonly string[];
  /** The user confirmed they inspected the plots. */
  inspected: boolean;
  /** The current champion, or null when nothing was promoted yet. */
  champion: ChampionInfo | null;
}

/** One criterion's verdict, with the numbers behind it. */
export interface PromotionCheck {
  criterion: string;
  passed: boolean;
  detail: string;
}

/** The verdict: promote only when every check passed. */
export interface PromotionDecision {
  promote: boolean;
  checks: PromotionCheck[];
}

/** How a promotion metric is named in the checks. */
export function promotionMetricLabel(metric: PromotionMetric): string {
  return metric === "val_macro_f1"
    ? "val macro-F1"
    : metric === "val_acc"
    ? "val accuracy"
    : "val cost";
}

/** The summary_metrics.json key of the always-majority baseline's value of `metric`. */
export function baselineKey(metric: PromotionMetric): string {
  return metric === "val_macro_f1"
    ? "baseline_macro_f1"
    : metric === "val_acc"
    ? "baseline_accuracy"
    : "baseline_total_cost";
}

/**
 * Applies the promotion criteria: (1) the task's promotion metric (val macro-F1 by default)
 * beats the champion's, and (2) the always-majority baseline's on the same labels, (3) the
 * evaluation bundle is attached to the run, (4) the plots were inspected. Every check is
 * reported, passed or not, with its numbers.
 */
export function decidePromotion(e: PromotionEvidence): PromotionDecision {
  const metric = e.metric ?? "val_macro_f1";
  const label = promotionMetricLabel(metric);
  const lower = lowerIsBetter(metric);
  const fmt = (v: number) => (lower ? String(Math.round(v)) : v.toFixed(4));
  const beats = (a: number, b: number) => (lower ? a < b : a > b);
  const [win, lose] = lower ? ["<", ">="] : [">", "<="];
  const checks: PromotionCheck[] = [];
  const v = e.value;
  const champion = `${label} beats the champion`;
  if (v === null || !Number.isFinite(v)) {
    checks.push({
      criterion: champion,
      passed: false,
      detail: `run ${e.runName} (${e.runId}) has no ${metric} metric; train it with validation`,
    });
  } else if (e.champion === null) {
    checks.push({
      criterion: champion,
      passed: true,
      detail: `no champion yet; ${label} ${fmt(v)}`,
    });
  } else if (e.champion.runId === e.runId) {
    checks.push({
      criterion: champion,
      passed: false,
      detail: `run ${e.runName} already is the champion (version ${e.champion.version})`,
    });
  } else if (
    e.classNames && e.champion.classNames && e.classNames !== e.champion.classNames
  ) {
    checks.push({
      criterion: champion,
      passed: false,
      detail: `champion ${e.champion.runName} (version ${e.champion.version}) was trained for ` +
        `other classes (${e.champion.classNames}, candidate ${e.classNames}); register this ` +
        "task's models under another --model name",
    });
  } else {
    const c = e.champion.value;
    const passed = c === null || beats(v, c);
    checks.push({
      criterion: champion,
      passed,
      detail: c === null
        ? `champion ${e.champion.runName} (version ${e.champion.version}) has no ${metric}; ` +
          `candidate ${fmt(v)}`
        : `candidate ${fmt(v)} ${passed ? win : lose} champion ${e.champion.runName} ` +
          `(version ${e.champion.version}) ${fmt(c)}`,
    });
  }
  const baseline = `${label} beats the always-majority baseline`;
  if (v === null || !Number.isFinite(v) || e.baseline === null) {
    checks.push({
      criterion: baseline,
      passed: false,
      detail: e.baseline === null
        ? `no ${baselineKey(metric)} in the run's summary_metrics.json and no readable ` +
          "confusion_matrix.csv beside it; run deno task evaluate with --mlflow-run-id on the " +
          "validation data first"
        : `the run has no ${metric} to compare`,
    });
  } else {
    const passed = beats(v, e.baseline);
    checks.push({
      criterion: baseline,
      passed,
      detail: `candidate ${fmt(v)} ${passed ? win : lose} always-majority ${fmt(e.baseline)} ` +
        `on the same validation labels`,
    });
  }
  const missing = REQUIRED_BUNDLE_FILES.filter((f) => !e.bundleFiles.includes(f));
  checks.push({
    criterion: "evaluation bundle attached to the run",
    passed: e.bundlePath !== null && missing.length === 0,
    detail: e.bundlePath === null
      ? "no evaluations/<name>/summary_metrics.json artifact on the run; run " +
        `deno task evaluate --mlflow-run-id ${e.runId} ...`
      : missing.length === 0
      ? `${e.bundlePath} holds ${REQUIRED_BUNDLE_FILES.length} required files`
      : `${e.bundlePath} lacks ${missing.join(", ")}`,
  });
  checks.push({
    criterion: "plots inspected",
    passed: e.inspected,
    detail: e.inspected
      ? "confirmed"
      : `not confirmed: open artifact ${e.bundlePath ?? "evaluations/<name>"}/${
        e.bundleFiles.includes("index.html") ? "index.html" : "(its plots)"
      } of run ${e.runId} (the run's Artifacts tab in the MLflow UI), then pass --inspected`,
  });
  return { promote: checks.every((c) => c.passed), checks };
}

/** Human-readable lines: one per criterion, `[ok]` or `[FAILED]`, with the numbers. */
export function formatPromotionDecision(d: PromotionDecision): string {
  return d.checks
    .map((c) => `${c.passed ? "[ok]    " : "[FAILED]"} ${c.criterion}: ${c.detail}`)
    .join("\n");
}
