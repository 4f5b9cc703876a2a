/**
 * Jobs: what the CLI and the page do, written once. Start a tracked training (run naming,
 * params, tags, the training hooks to MLflow), attach an evaluation bundle to a run,
 * promote a run, and the run spec a training job is described by. The Deno-only halves
 * (`*_deno.ts`: the train, evaluate, sync and quickstart jobs) are imported directly.
 *
 * @module
 */
export * from "./run_spec.ts";
export * from "./run_tags.ts";
export * from "./tracked_training.ts";
export * from "./attach_evaluation.ts";
export * from "./promote_job.ts";
