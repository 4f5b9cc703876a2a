/**
 * The CPU module's function table: the index of each function (calls go by index), where a
 * GEMM tile reads A (which picks the tile function), the zero vector both the GEMM tiles
 * and the LSTM items start from, and how an item function reads its job descriptor.
 *
 * @module
 */
import { type Code, get, I, i32, V } from "./_wasm_asm.ts";

/**
 * Where a tile reads A: "rows" straight from rows of contiguous k (`sk` = 4, row stride
 * `sa`), "packed" from a copy laid out `[k][6]` (any strides; see gemmRows).
 */
export type TileSource = "rows" | "packed";
/** The tile sources in the order of the tile functions. */
export const TILE_SOURCES: readonly TileSource[] = ["rows", "packed"];

// Function indices (the order of `functions` in `buildCpuModule`, `_cpu_programs.ts`).
export const FN = {
  run: 0,
  gemmRows: 1,
  /** tile1_rows..tile6_rows at 2..7, tile1_packed..tile6_packed at 8..13. */
  tile: (m: number, source: TileSource) => 1 + m + 6 * TILE_SOURCES.indexOf(source),
  gemmItem: 14,
  lstmFwdItem: 15,
  lstmBwdItem: 16,
  gatesFwd: 17,
  gatesBwd: 18,
  transposeItem: 19,
};

/** The all-zero vector. */
export const zeroV = (): Code => V.i32Splat(i32(0));

/** Reads word `w` of the job descriptor whose address is in local `job` (an item's param). */
export const jobArg = (job: number) => (w: number): Code => I.load(get(job), 4 * w);
