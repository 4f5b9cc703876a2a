// The training loop, losses, schedules and per-epoch metrics.
export * from "./config.ts";
export * from "./hooks.ts";
