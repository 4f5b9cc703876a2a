/**
 * A register-tiled matrix product (WGSL) for tfjs-backend-webgpu: C = op(A) op(B) (+ bias),
 * optionally batched, where op() is an optional transpose. Each thread owns a tile of
 * {@link MATMUL_TILE_ROWS} x {@link MATMUL_TILE_COLS} outputs and walks the inner dimension
 * four at a time, reading every operand as vec4s.
 *
 * Why this shape: on CPU adapters (Mesa llvmpipe, SwiftShader) every load instruction is
 * a loop over the SIMD lanes, so a kernel's speed is set by how many multiply-adds each
 * loaded value feeds, not by the arithmetic. Per step of 4 along k a thread loads 8 vec4s
 * of A and 16 of B (in every transpose combination: a transposed operand is read along
 * its other axis, still as vec4s) and does 512 multiply-adds. On llvmpipe this measured
 * 14.7-18.3 GFLOP/s for W's products, against 2.2-4.8 GFLOP/s for tfjs 4.22's own matmul
 * (docs/performance.md).
 *
 * Layout: 64 threads per workgroup, `lc` of them side by side along the columns and
 * `64 / lc` along the rows (lc = 16, or fewer when the output is narrow); workgroup z is
 * the batch index. Requires K % 4 == 0, N % 4 == 0 and, when A is transposed, M % 4 == 0
 * (see {@link matMulAligned}); rows and columns past the edge are clamped on load and
 * skipped on store.
 *
 * @module
 */
import type { WebGpuProgramLike } from "./_webgpu_program.ts";

/** Output rows per thread. */
export const MATMUL_TILE_ROWS = 8;
/** Output columns per thread (a multiple of 4). */
export const MATMUL_TILE_COLS = 16;

const THREADS = 64;
const TM = MATMUL_TILE_ROWS;
const TN = MATMUL_TILE_COLS;

/** True when {@link MatMulProgram} accepts these sizes (vec4 access along every axis read). */
export function matMulAligned(m: number, k: number, n: number, transposeA: boolean): boolean {
  return k % 4 === 0 && n % 4 === 0 && (!transposeA || m % 4 === 0);
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * Inputs: A ([batch,] M, K, or K, M when transposed), B ([batch,] K, N, or N, K when
 * transposed) and optionally `bias` [N]; output [batch * M * N] (row-major). A and B may
 * start inside their buffers: uniforms `aOffset`, `bOffset` (in vec4s, after m, k, n).
 */
export class MatMulProgram implements WebGpuProgramLike {
  variableNames: string[];
  variableComponents: number[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [THREADS, 1, 1];
  uniforms = "m : i32, k : i32, n : i32, aOffset : i32, bOffset : i32,";
  private readonly lc: number;

  constructor(
    batch: number,
    m: number,
    k: number,
    n: number,
    private readonly transposeA: boolean,
    private readonly transposeB: boolean,
    private readonly hasBias: boolean,
  ) {
    if (!matMulAligned(m, k, n, transposeA)) {
      throw new RangeError(
        `Cannot build the WebGPU matmul for [${m}, ${k}] x [${k}, ${n}]` +
          `${transposeA ? " (A transposed)" : ""}: expected K and N${
            transposeA ? " and M" : ""
          } to be multiples of 4`,
      );
    }
    const colTiles = Math.ceil(n / TN);
    this.lc = Math.min(16, 2 ** Math.ceil(Math.log2(colTiles)));
    const lr = THREADS / this.lc;
    this.variableNames = hasBias ? ["A", "B", "bias"] : ["A", "B"];
    this.variableComponents = hasBias ? [4, 4, 4] : [4, 4];
    this.outputShape = [batch * m * n];
    this.dispatch = [Math.ceil(colTiles / this.lc), Math.ceil(m / (TM * lr)), batch];
    this.shaderKey = `cx_matmul_${TM}x${TN}_${this.lc}_${transposeA ? "t" : "n"}${
      transposeB ? "t" : "n"
    }${hasBias ? "_bias" : ""}`;
  }

  getUserCode(): string {
    const tn4 = TN / 4;
    const pre: string[] = [];
    const body: string[] = [];
    // A as vec4s: along k (4 k of one row) or, transposed, along the rows (4 rows of one k).
    if (this.transposeA) {
      for (const kk of range(4)) {
        for (const i of range(TM / 4)) {
          body.push(`let a${kk}_${i} = A[aBase + (k0 + ${kk}) * M4 + min(r4 + ${i}, M4 - 1)];`);
        }
      }
    } else {
      for (const r of range(TM)) pre.push(`let ar${r} = aBase + min(r0 + ${r}, M - 1) * K4;`);
      for (const r of range(TM)) body.push(`let a${r} = A[ar${r} + k4];`);
    }
    // B as vec4s: along the columns (4 columns of one k) or, transposed, along k.
    if (this.transposeB) {
      for (const c of range(TN)) pre.push(`let bc${c} = bBase + min(c0 + ${c}, N - 1) * K4;`);
      for (const c of range(TN)) body.push(`let b${c} = B[bc${c} + k4];`);
    } else {
      for (const kk of range(4)) {
        for (const j of range(tn4)) {
          body.push(`let b${kk}_${j} = B[bBase + (k0 + ${kk}) * N4 + min(c4 + ${j}, N4 - 1)];`);
        }
      }
    }
    const a = (r: number, kk: number) =>
      this.transposeA ? `a${kk}_${r >> 2}[${r & 3}]` : `a${r}[${kk}]`;
    const b = (kk: number, j: number) =>
      this.transposeB
        ? `vec4<f32>(${range(4).map((i) => `b${4 * j + i}[${kk}]`).join(", ")})`
        : `b${kk}_${j}`;
    for (const r of range(TM)) {
      for (const j of range(tn4)) {
        const terms = range(4).map((kk) => `${a(r, kk)} * ${b(kk, j)}`);
        body.push(`acc${r}_${j} += ${terms.join(" + ")};`);
      }
    }
    const init = (j: number) => this.hasBias ? `bias[min(c4 + ${j}, N4 - 1)]` : "vec4<f32>(0.0)";
    for (const r of range(TM)) {
      for (const j of range(tn4)) pre.push(`var acc${r}_${j} = ${init(j)};`);
    }
    const stores: string[] = [];
    for (const r of range(TM)) {
      for (const j of range(tn4)) {
        stores.push(`if (r0 + ${r} < M && c0 + ${4 * j} < N) {
      let o = oBase + (r0 + ${r}) * N + c0 + ${4 * j};
      result[o] = acc${r}_${j}.x;
      result[o + 1] = acc${r}_${j}.y;
      result[o + 2] = acc${r}_${j}.z;
      result[o + 3] = acc${r}_${j}.w;
    }`);
      }
    }
    return `
fn main(index : i32) {
  let M = uniforms.m;
  let K = uniforms.k;
  let N = uniforms.n;
  let M4 = M / 4;
  let K4 = K / 4;
  let N4 = N / 4;
  let z = i32(workgroupId.z);
  let aBase = uniforms.aOffset + z * M * K4;
  let bBase = uniforms.bOffset + z * K * N4;
  let oBase = z * M * N;
  let lid = i32(localId.x);
  let c0 = (i32(workgroupId.x) * ${this.lc} + lid % ${this.lc}) * ${TN};
  let r0 = (i32(workgroupId.y) * ${THREADS / this.lc} + lid / ${this.lc}) * ${TM};
  let c4 = c0 / 4;
  let r4 = r0 / 4;
  ${pre.join("\n  ")}
  for (var k4 = 0; k4 < K4; k4++) {
    let k0 = 4 * k4;
    ${body.join("\n    ")}
  }
  ${stores.join("\n  ")}
}
`;
  }
}
