// Re-exports for src/model. Each module adds its public exports here.
export {};
