// Re-exports for src/tracking. Each module adds its public exports here.
export * from "./tracking_store.ts";
export * from "./file_system.ts";
export * from "./file_store.ts";
export * from "./mlflow_request_error.ts";
export * from "./tracking_uri.ts";
export * from "./rest_transport.ts";
export * from "./log_batch.ts";
export * from "./rest_store.ts";
export * from "./spool.ts";
export * from "./run_logger.ts";
export * from "./run_name.ts";
export * from "./copy_run.ts";
