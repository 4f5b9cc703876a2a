/**
 * Run review and the promotion policy, computed over the tracking interface: the runs
 * table and comparisons, the evidence a promotion needs, the decision and its registry
 * record.
 *
 * @module
 */
export * from "./promotion_decision.ts";
export * from "./run_review.ts";
export * from "./promotion.ts";
