/**
 * What the CPU LSTM op's forward and backward passes share: the sizes of a call, its
 * memory (regions freed together), the packed and padded layouts of the weights, and the
 * LSTM job descriptor.
 *
 * @module
 */
import { LSTM_ARGS, lstmScratchBytes } from "./_cpu_layout.ts";
import type { JobBatch } from "./_cpu_jobs.ts";
import type { CpuRuntime, Region } from "./_cpu_runtime.ts";

/** Sizes of one call; `hp` is the hidden size padded to a multiple of 4, `g = 4 hp`. */
export interface Dims {
  readonly batch: number;
  readonly steps: number;
  readonly inSize: number;
  readonly hidden: number;
  readonly hp: number;
  readonly g: number;
  readonly dirs: number;
}

/** Regions of one call, freed together. */
export class Allocation {
  readonly #regions: Region[] = [];
  constructor(readonly rt: CpuRuntime) {}
  take(bytes: number): Region {
    const r = this.rt.alloc(bytes);
    this.#regions.push(r);
    return r;
  }
  release(): void {
    for (const r of this.#regions.splice(0)) this.rt.free(r);
  }
}

/** Index of B(k, n) in the packed layout `[n/8][k][8]` of a matrix with `rows` rows (k). */
export const packedAt = (rows: number, k: number, n: number) => ((n >> 3) * rows + k) * 8 + (n & 7);

/** Packed columns of [K, D*G] from per-direction [.., 4H] weights: (direction, column). */
export function gateColumns(n: Dims): { dir: Int32Array; col: Int32Array } {
  const width = n.dirs * n.g;
  const dir = new Int32Array(width), col = new Int32Array(width);
  for (let d = 0; d < n.dirs; d++) {
    for (let q = 0; q < 4; q++) {
      for (let u = 0; u < n.hp; u++) {
        const at = d * n.g + q * n.hp + u;
        dir[at] = d;
        col[at] = u < n.hidden ? q * n.hidden + u : -1;
      }
    }
  }
  return { dir, col };
}

/** Adds the LSTM job (descriptor, items, rows and scratch) to a batch. */
export function addLstmJob(
  jobs: JobBatch,
  alloc: Allocation,
  kind: number,
  n: Dims,
  fields: Record<number, number>,
  groups: number[][],
): void {
  const items = n.dirs * groups.length;
  const itemsR = alloc.take(12 * items);
  const rowsR = alloc.take(4 * n.batch);
  const maxRows = Math.max(...groups.map((g) => g.length));
  const scratchBytes = lstmScratchBytes(maxRows, n.hp);
  const scratchR = alloc.take(scratchBytes * items);
  const rt = jobs.rt;
  const rows = rt.i32(rowsR, n.batch);
  const itemWords = rt.i32(itemsR, 3 * items);
  let at = 0;
  const starts: number[] = [];
  for (const g of groups) {
    starts.push(at);
    for (const b of g) rows[at++] = b;
  }
  let i = 0;
  for (let d = 0; d < n.dirs; d++) {
    groups.forEach((g, gi) => {
      itemWords.set([d, starts[gi], starts[gi] + g.length], 3 * i++);
    });
  }
  const w = new Array<number>(LSTM_ARGS.size).fill(0);
  w[0] = kind;
  w[LSTM_ARGS.batch] = n.batch;
  w[LSTM_ARGS.steps] = n.steps;
  w[LSTM_ARGS.hp] = n.hp;
  w[LSTM_ARGS.dirs] = n.dirs;
  w[LSTM_ARGS.items] = itemsR.ptr;
  w[LSTM_ARGS.rows] = rowsR.ptr;
  w[LSTM_ARGS.scratch] = scratchR.ptr;
  w[LSTM_ARGS.scratchBytes] = scratchBytes;
  for (const [k, v] of Object.entries(fields)) w[Number(k)] = v;
  jobs.add(w, items);
}
