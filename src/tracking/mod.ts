// Re-exports for src/tracking. Each module adds its public exports here.
export * from "./tracking_store.ts";
export * from "./file_system.ts";
export * from "./file_store.ts";
