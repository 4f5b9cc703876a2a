/**
 * The training loop: `train()` with the model's and the loop's settings, losses, AdamW,
 * StepLR, clipping, validation, hooks and the checkpoint format.
 *
 * @module
 */
export * from "./config.ts";
export * from "./hooks.ts";
export * from "./losses.ts";
export * from "./adamw.ts";
export * from "./create_optimizer.ts";
export * from "./step_lr.ts";
export * from "./clip_by_global_norm.ts";
export * from "./validate.ts";
export * from "./checkpoint.ts";
export * from "./train.ts";
export * from "./non_finite_loss_error.ts";
export * from "./best_checkpoint.ts";
export * from "./task_data.ts";
export * from "./combine_hooks.ts";
export * from "./metrics_csv.ts";
