/** The files a run's evaluation bundle must hold for promotion to count it as attached. */
export const REQUIRED_BUNDLE_FILES: readonly string[] = Object.freeze([
  "index.html",
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
  /** Its best validation macro-F1; null when the run has none logged. */
  valMacroF1: number | null;
}

/** Everything the promotion criteria look at. */
export interface PromotionEvidence {
  runId: string;
  runName: string;
  /** Best `val_macro_f1` the run logged (the epoch its `best` checkpoint comes from). */
  valMacroF1: number | null;
  /** Always-0 macro-F1 on the same validation labels (the bundle's `baseline_macro_f1`). */
  baselineMacroF1: number | null;
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

const f4 = (v: number) => v.toFixed(4);

/**
 * Applies the promotion criteria: (1) val macro-F1 beats the champion's and the always-0
 * baseline on the same labels, (2) the evaluation bundle is attached to the run, (3) the
 * plots were inspected. Every check is reported, passed or not, with its numbers.
 */
export function decidePromotion(e: PromotionEvidence): PromotionDecision {
  const checks: PromotionCheck[] = [];
  const f1 = e.valMacroF1;
  if (f1 === null || !Number.isFinite(f1)) {
    checks.push({
      criterion: "val macro-F1 beats the champion",
      passed: false,
      detail: `run ${e.runName} (${e.runId}) has no val_macro_f1 metric; train it with validation`,
    });
  } else if (e.champion === null) {
    checks.push({
      criterion: "val macro-F1 beats the champion",
      passed: true,
      detail: `no champion yet; val macro-F1 ${f4(f1)}`,
    });
  } else if (e.champion.runId === e.runId) {
    checks.push({
      criterion: "val macro-F1 beats the champion",
      passed: false,
      detail: `run ${e.runName} already is the champion (version ${e.champion.version})`,
    });
  } else {
    const c = e.champion.valMacroF1;
    const passed = c === null || f1 > c;
    checks.push({
      criterion: "val macro-F1 beats the champion",
      passed,
      detail: c === null
        ? `champion ${e.champion.runName} (version ${e.champion.version}) has no val_macro_f1; ` +
          `candidate ${f4(f1)}`
        : `candidate ${f4(f1)} ${passed ? ">" : "<="} champion ${e.champion.runName} ` +
          `(version ${e.champion.version}) ${f4(c)}`,
    });
  }
  if (f1 === null || !Number.isFinite(f1) || e.baselineMacroF1 === null) {
    checks.push({
      criterion: "val macro-F1 beats the always-0 baseline",
      passed: false,
      detail: e.baselineMacroF1 === null
        ? "no baseline_macro_f1 in the run's summary_metrics.json; run deno task evaluate " +
          "with --mlflow-run-id on the validation data first"
        : "the run has no val_macro_f1 to compare",
    });
  } else {
    const passed = f1 > e.baselineMacroF1;
    checks.push({
      criterion: "val macro-F1 beats the always-0 baseline",
      passed,
      detail: `candidate ${f4(f1)} ${passed ? ">" : "<="} always-0 ${f4(e.baselineMacroF1)} ` +
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
      : `not confirmed: open artifact ${e.bundlePath ?? "evaluations/<name>"}/index.html of ` +
        `run ${e.runId} (the run's Artifacts tab in the MLflow UI), then pass --inspected`,
  });
  return { promote: checks.every((c) => c.passed), checks };
}

/** Human-readable lines: one per criterion, `[ok]` or `[FAILED]`, with the numbers. */
export function formatPromotionDecision(d: PromotionDecision): string {
  return d.checks
    .map((c) => `${c.passed ? "[ok]    " : "[FAILED]"} ${c.criterion}: ${c.detail}`)
    .join("\n");
}
