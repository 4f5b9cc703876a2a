// Re-exports for src/data. Each module adds its public exports here.
export {};
