/**
 * The tracking client: MLflow and only MLflow. One `TrackingStore` interface (file store and
 * REST server), one tracking-URI parser, the non-blocking run logger and its spool, run
 * names, copying runs. `openTrackingStore` (`open_tracking_store_deno.ts`) opens a store.
 *
 * @module
 */
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
export * from "./logged_model.ts";
