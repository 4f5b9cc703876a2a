import assert from "#assert";
import {
  decidePromotion,
  formatPromotionDecision,
  type PromotionEvidence,
  REQUIRED_BUNDLE_FILES,
} from "../../src/review/mod.ts";

const base: PromotionEvidence = {
  runId: "abc",
  runName: "val-l128-biLSTM-run2",
  value: 0.31,
  baseline: 0.1973,
  bundlePath: "evaluations/val_sequences",
  bundleFiles: [...REQUIRED_BUNDLE_FILES, "index.html", "pr_curves.svg"],
  inspected: true,
  champion: { runId: "old", runName: "run1", version: "3", value: 0.25 },
};

Deno.test("decidePromotion() reports every criterion with its numbers", async (t) => {
  const table: {
    name: string;
    change: Partial<PromotionEvidence>;
    promote: boolean;
    failed: string[];
    detail?: RegExp;
  }[] = [
    { name: "a better run with everything attached", change: {}, promote: true, failed: [] },
    {
      name: "first promotion",
      change: { champion: null },
      promote: true,
      failed: [],
      detail: /no champion yet; val macro-F1 0\.3100/,
    },
    {
      name: "a worse run",
      change: { value: 0.2 },
      promote: false,
      failed: ["val macro-F1 beats the champion"],
      detail: /candidate 0\.2000 <= champion run1 \(version 3\) 0\.2500/,
    },
    {
      name: "an equal run is not better",
      change: { value: 0.25 },
      promote: false,
      failed: ["val macro-F1 beats the champion"],
    },
    {
      name: "below the always-majority baseline",
      change: { value: 0.155, champion: null },
      promote: false,
      failed: ["val macro-F1 beats the always-majority baseline"],
      detail: /candidate 0\.1550 <= always-majority 0\.1973 on the same validation labels/,
    },
    {
      name: "no bundle",
      change: { bundlePath: null, bundleFiles: [], baseline: null },
      promote: false,
      failed: [
        "val macro-F1 beats the always-majority baseline",
        "evaluation bundle attached to the run",
      ],
      detail: /deno task evaluate --mlflow-run-id abc/,
    },
    {
      name: "bundle lacks files",
      change: { bundleFiles: ["summary_metrics.json"] },
      promote: false,
      failed: ["evaluation bundle attached to the run"],
      detail: /evaluations\/val_sequences lacks classification_report\.json, confusion_matrix/,
    },
    {
      name: "a pipeline bundle: no index.html, the pipeline's files",
      change: { bundleFiles: [...REQUIRED_BUNDLE_FILES, "confusion_matrix.png"], inspected: false },
      promote: false,
      failed: ["plots inspected"],
      detail:
        /holds 6 required files[^]*open artifact evaluations\/val_sequences\/\(its plots\) of run abc \(the run's Artifacts tab in the MLflow UI\), then pass/,
    },
    {
      name: "plots not inspected",
      change: { inspected: false },
      promote: false,
      failed: ["plots inspected"],
      detail:
        /open artifact evaluations\/val_sequences\/index\.html of run abc \(the run's Artifacts tab in the MLflow UI\), then pass --inspected/,
    },
    {
      name: "the champion itself",
      change: { champion: { runId: "abc", runName: "x", version: "4", value: 0.31 } },
      promote: false,
      failed: ["val macro-F1 beats the champion"],
      detail: /already is the champion \(version 4\)/,
    },
  ];
  for (const row of table) {
    await t.step(row.name, () => {
      const d = decidePromotion({ ...base, ...row.change });
      assert.equal(d.promote, row.promote);
      assert.equal(d.checks.length, 4);
      assert.deepEqual(d.checks.filter((c) => !c.passed).map((c) => c.criterion), row.failed);
      if (row.detail) assert.match(formatPromotionDecision(d), row.detail);
    });
  }
});

Deno.test("formatPromotionDecision() marks each line ok or FAILED", () => {
  const text = formatPromotionDecision(decidePromotion({ ...base, inspected: false }));
  const lines = text.split("\n");
  assert.equal(lines.length, 4);
  assert.ok(lines[0].startsWith("[ok]     val macro-F1 beats the champion: candidate 0.3100 > "));
  assert.ok(lines[3].startsWith("[FAILED] plots inspected: not confirmed"));
});
