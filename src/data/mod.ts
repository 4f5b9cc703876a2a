// Re-exports for src/data. Each module adds its public exports here.
export * from "./feature_stats.ts";
export * from "./transform_features.ts";
export * from "./sequence_dataset.ts";
export * from "./class_weights.ts";
export * from "./seeded_rng.ts";
export * from "./batches.ts";
export * from "./sample.ts";
