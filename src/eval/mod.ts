// Re-exports for src/eval: metrics, curves, the evaluation bundle and its plots.
export * from "./metrics.ts";
