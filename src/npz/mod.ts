/**
 * File formats: numpy `.npy` and `.npz`, read and written as bytes (arrays out, arrays in).
 * `openNpz` (`open_npz_deno.ts`) streams members from disk.
 *
 * @module
 */
export * from "./npy_types.ts";
export * from "./npz_format_error.ts";
export * from "./float16.ts";
export * from "./crc32.ts";
export * from "./read_npy.ts";
export * from "./write_npy.ts";
export * from "./read_npz.ts";
export * from "./write_npz.ts";
