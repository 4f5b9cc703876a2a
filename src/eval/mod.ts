// Re-exports for src/eval. Each module adds its public exports here.
export {};
