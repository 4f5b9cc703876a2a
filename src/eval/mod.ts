// Re-exports for src/eval: the MLflow access of evaluation, promotion and run review.
export * from "./review_store.ts";
export * from "./tracking_review_store.ts";
export * from "./version_annotator_rest.ts";
