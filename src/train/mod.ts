// Re-exports for src/train. Each module adds its public exports here.
export {};
