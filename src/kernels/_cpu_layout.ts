/**
 * The layouts the CPU module (`_cpu_programs.ts`) and the JavaScript that drives it agree on:
 * the job kinds, the word offsets of each job's descriptor, the GEMM tile's rows and the
 * scratch bytes a GEMM or LSTM item needs.
 *
 * @module
 */
/** Job kinds (word 0 of a job descriptor). */
export const JOB = Object.freeze({
  GEMM: 1,
  LSTM_FWD: 4,
  LSTM_BWD: 5,
  /** Several independent jobs run as one: [kind, count, (job, items) x count]. */
  MULTI: 6,
  TRANSPOSE: 7,
});

/** Word offsets of the GEMM job's fields. */
export const GEMM_ARGS = Object.freeze({
  a: 1,
  sa: 2,
  sk: 3,
  bp: 4,
  k: 5,
  c: 6,
  ldc: 7,
  m: 8,
  panels: 9,
  /** 0: C = A·B; 1: C += A·B; 2: C = bias + A·B (bias: one row, `panels * 8` floats). */
  init: 10,
  bias: 11,
  /** Rows per item, panels per item, and the number of panel blocks. */
  rowBlock: 12,
  panelBlock: 13,
  panelBlocks: 14,
  /** Scratch: {@link A_PACK_BYTES} per item. */
  scratch: 15,
  size: 16,
});

/** Word offsets of the TRANSPOSE job's fields: dst[c][r] = src[r][c] (strides in bytes). */
export const TRANSPOSE_ARGS = Object.freeze({
  src: 1,
  ld: 2,
  rows: 3,
  cols: 4,
  dst: 5,
  ldDst: 6,
  /** Source rows per item. */
  rowBlock: 7,
  size: 8,
});

/**
 * Word offsets of the LSTM jobs' fields. Per-direction fields come in pairs (direction 0,
 * direction 1). Items are (direction, group) triples in `items`: direction, first and end
 * index into `rows`, the batch rows of the group.
 */
export const LSTM_ARGS = Object.freeze({
  batch: 1,
  steps: 2,
  hp: 3,
  dirs: 4,
  mask: 5, // f32 [B, T]
  rowOf: 6, // i32 [B*T]: matmul row of (b, t), or -1 when masked
  items: 7,
  rows: 8,
  scratch: 9, // per item: `scratchBytes` bytes
  scratchBytes: 10,
  /** Forward: the projection + bias [R, D*G]; backward: dy [B*T, D*Hp]. */
  input: 11,
  /** 1: keep what the backward pass needs (forward job only). */
  save: 12,
  /** Forward: out [B*T, D*Hp]; backward: dz [R, D*G]. */
  output: 13,
  weights: 14, // 2: packed recurrent [G/8][Hp][8] (forward) or transposed [Hp/8][G][8]
  state: 16, // 2: h (forward) or dh (backward), [B, Hp]
  cell: 18, // 2: c (forward) or dc (backward), [B, Hp]
  gates: 20, // 2: saved i, f, g, o per (step, b), [T, B, G]
  tanhC: 22, // 2: saved tanh(c_new), [T, B, Hp]
  cPrev: 24, // 2: saved c before the step, [T, B, Hp]
  hPrev: 26, // 2: saved h read by each matmul row, [R, Hp]
  /** Backward: dz per direction packed in panels of 8 columns, [G/8][R][8]. */
  packed: 28,
  /** R, the number of matmul rows. */
  matmulRows: 30,
  size: 31,
});

/** Bytes of scratch one LSTM item needs for a group of up to `rows` rows. */
export function lstmScratchBytes(rows: number, hp: number): number {
  const g = 4 * hp;
  const hp8 = Math.ceil(hp / 8) * 8;
  // active list, h (or dh back) rows, z (or dz) rows, the GEMM's packed A tile
  return align64(4 * rows) + align64(4 * rows * Math.max(hp, hp8)) + align64(4 * rows * g) +
    A_PACK_BYTES;
}

const align64 = (n: number) => Math.ceil(n / 64) * 64;

/** The rows of one GEMM micro-tile. */
export const TILE_ROWS = 6;
/** K runs in chunks of this many (cache blocking). */
export const K_CHUNK = 256;

/** Bytes of the packed A tile a GEMM needs as scratch (see `gemmRowsFn`, `_cpu_gemm.ts`). */
export const A_PACK_BYTES = 4 * TILE_ROWS * 256;
