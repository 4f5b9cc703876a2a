// Re-exports for src/tracking. Each module adds its public exports here.
export {};
