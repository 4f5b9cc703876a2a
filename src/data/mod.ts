/**
 * Data: the data contract's sequence datasets from npz members, the feature transform and
 * its statistics, class weights, batching, seeded randomness and the sample generator.
 * `loadSequenceFile` (`load_sequences_deno.ts`) reads a file from disk.
 *
 * @module
 */
export * from "./feature_stats.ts";
export * from "./transform_features.ts";
export * from "./sequence_dataset.ts";
export * from "./class_weights.ts";
export * from "./seeded_rng.ts";
export * from "./batches.ts";
export * from "./sample.ts";
