// Re-exports for src/kernels. Each module adds its public exports here.
export {};
