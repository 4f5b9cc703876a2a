// Re-exports for src/npz: read and write numpy .npy / .npz (bytes in, arrays out).
export * from "./npy_types.ts";
export * from "./npz_format_error.ts";
export * from "./read_npy.ts";
export * from "./write_npy.ts";
export * from "./read_npz.ts";
export * from "./write_npz.ts";
