/**
 * Job descriptors for `_cpu_programs.ts`, written from JS. A {@link JobBatch} collects
 * independent jobs (GEMM, TRANSPOSE, LSTM) and runs them behind one barrier: every
 * thread takes items from all of them, and `run()` returns when all are done. Addresses
 * and strides are bytes.
 *
 * @module
 */
import { A_PACK_BYTES, GEMM_ARGS, JOB, TILE_ROWS, TRANSPOSE_ARGS } from "./_cpu_layout.ts";
import type { CpuRuntime, Region } from "./_cpu_runtime.ts";

/** `C (=|+=) A · B` with B already packed in panels of 8 columns, `[N/8][K][8]`. */
export interface GemmSpec {
  /** A(i, k) at `a + i*sa + k*sk`. */
  readonly a: number;
  readonly sa: number;
  readonly sk: number;
  /** Packed B: `[panels][k][8]`. */
  readonly bp: number;
  readonly k: number;
  readonly c: number;
  /** Bytes per row of C; C has `panels * 8` columns. */
  readonly ldc: number;
  readonly m: number;
  readonly panels: number;
  /** 0: overwrite C; 1: add to C; 2: start from the bias row at `bias`. */
  readonly init: 0 | 1 | 2;
  readonly bias?: number;
}

/** Panels of 8 columns needed for `n` columns. */
export const panelsOf = (n: number): number => Math.ceil(n / 8);

/** Bytes of a packed `[k, n]` matrix. */
export const packedBytes = (k: number, n: number): number => panelsOf(n) * k * 32;

/** Independent jobs that run behind one barrier. */
export class JobBatch {
  readonly #jobs: { words: number[]; items: number }[] = [];
  readonly #scratch: Region[] = [];
  constructor(readonly rt: CpuRuntime) {}

  /** Adds a GEMM, split into row blocks by panel blocks (about 4 items per thread). */
  gemm(s: GemmSpec): this {
    if (s.sk !== 4 && s.sa !== 4) {
      throw new RangeError(
        `Cannot run a CPU GEMM with A strides sa ${s.sa}, sk ${s.sk}: one of them must be 4 ` +
          "(rows of contiguous k, or a transposed A)",
      );
    }
    if (s.m === 0 || s.panels === 0) return this;
    const panelBlock = Math.min(s.panels, 32);
    const panelBlocks = Math.ceil(s.panels / panelBlock);
    const tiles = Math.ceil(s.m / TILE_ROWS);
    const rowBlocks = Math.max(1, Math.min(tiles, Math.ceil((4 * this.rt.threads) / panelBlocks)));
    const rowBlock = Math.ceil(tiles / rowBlocks) * TILE_ROWS;
    const w = new Array<number>(GEMM_ARGS.size).fill(0);
    w[0] = JOB.GEMM;
    w[GEMM_ARGS.a] = s.a;
    w[GEMM_ARGS.sa] = s.sa;
    w[GEMM_ARGS.sk] = s.sk;
    w[GEMM_ARGS.bp] = s.bp;
    w[GEMM_ARGS.k] = s.k;
    w[GEMM_ARGS.c] = s.c;
    w[GEMM_ARGS.ldc] = s.ldc;
    w[GEMM_ARGS.m] = s.m;
    w[GEMM_ARGS.panels] = s.panels;
    w[GEMM_ARGS.init] = s.init;
    w[GEMM_ARGS.bias] = s.bias ?? 0;
    w[GEMM_ARGS.rowBlock] = rowBlock;
    w[GEMM_ARGS.panelBlock] = panelBlock;
    w[GEMM_ARGS.panelBlocks] = panelBlocks;
    const items = Math.ceil(s.m / rowBlock) * panelBlocks;
    const scratch = this.rt.alloc(items * A_PACK_BYTES);
    this.#scratch.push(scratch);
    w[GEMM_ARGS.scratch] = scratch.ptr;
    return this.add(w, items);
  }

  /** Adds a transpose: `dst[c][r] = src[r][c]` for a `[rows, cols]` source (strides in bytes). */
  transpose(
    s: { src: number; ld: number; rows: number; cols: number; dst: number; ldDst: number },
  ): this {
    if (s.rows === 0 || s.cols === 0) return this;
    const rowBlock = 32;
    const w = new Array<number>(TRANSPOSE_ARGS.size).fill(0);
    w[0] = JOB.TRANSPOSE;
    w[TRANSPOSE_ARGS.src] = s.src;
    w[TRANSPOSE_ARGS.ld] = s.ld;
    w[TRANSPOSE_ARGS.rows] = s.rows;
    w[TRANSPOSE_ARGS.cols] = s.cols;
    w[TRANSPOSE_ARGS.dst] = s.dst;
    w[TRANSPOSE_ARGS.ldDst] = s.ldDst;
    w[TRANSPOSE_ARGS.rowBlock] = rowBlock;
    return this.add(w, Math.ceil(s.rows / rowBlock));
  }

  /** Adds a filled job descriptor (e.g. an LSTM job) with `items` items. */
  add(words: number[], items: number): this {
    if (items > 0) this.#jobs.push({ words, items });
    return this;
  }

  /** Writes the descriptors into the runtime's job area, runs every item, and empties the batch. */
  run(): void {
    try {
      this.#run(this.#jobs.splice(0));
    } finally {
      for (const r of this.#scratch.splice(0)) this.rt.free(r);
    }
  }

  #run(jobs: { words: number[]; items: number }[]): void {
    if (jobs.length === 0) return;
    const area = this.rt.jobArea;
    const multiWords = 2 + 2 * jobs.length;
    const bytes = 4 * (multiWords + jobs.reduce((s, j) => s + j.words.length, 0));
    if (bytes > area.bytes) {
      throw new RangeError(
        `Cannot run ${jobs.length} CPU kernel jobs at once: their ${bytes} bytes of descriptors ` +
          `exceed the ${area.bytes}-byte job area`,
      );
    }
    const view = this.rt.i32(area);
    if (jobs.length === 1) {
      view.set(jobs[0].words);
      this.rt.parallel(area.ptr, jobs[0].items);
      return;
    }
    let at = multiWords, total = 0;
    view[0] = JOB.MULTI;
    view[1] = jobs.length;
    jobs.forEach((j, i) => {
      view.set(j.words, at);
      view[2 + 2 * i] = area.ptr + 4 * at;
      view[3 + 2 * i] = j.items;
      at += j.words.length;
      total += j.items;
    });
    this.rt.parallel(area.ptr, total);
  }
}
