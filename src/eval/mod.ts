// Re-exports for src/eval: metrics, curves, the evaluation bundle and its plots.
export * from "./metrics.ts";
export * from "./roc_curve.ts";
export * from "./precision_recall_curve.ts";
export * from "./reliability.ts";
export * from "./one_vs_rest.ts";
export * from "./plots.ts";
export * from "./evaluation_bundle.ts";
export * from "./evaluation_index_html.ts";
export * from "./predictions_csv.ts";
export * from "./promotion_decision.ts";
export * from "./review_store.ts";
export * from "./tracking_review_store.ts";
export * from "./version_annotator_rest.ts";
export * from "./run_review.ts";
export * from "./promotion.ts";
