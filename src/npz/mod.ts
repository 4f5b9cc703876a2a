// Re-exports for src/npz. Each module adds its public exports here.
export {};
