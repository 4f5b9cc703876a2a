/**
 * `torchCpuRngState`: the bytes `torch.get_rng_state()` returns right after
 * `torch.manual_seed(seed)`, so a checkpoint we write carries a valid `torch_rng_state` that
 * the pipeline's resume can pass to `torch.set_rng_state`.
 *
 * Layout (torch's CPU generator state, 5056 bytes, little-endian): the initial seed (u64),
 * `left` (i32), `seeded` (i32), `next` (u64), the 624 words of the mt19937 state (u64 each),
 * the cached normal sample (three f64 and an i32 flag), then a cached float normal sample
 * (f32) and its flag (u8), padded.
 *
 * @module
 */

/** Size of torch's CPU generator state. */
export const TORCH_CPU_RNG_STATE_BYTES = 5056;

/**
 * The state of torch's CPU generator seeded with `seed` (0 <= seed < 2^64).
 *
 * @example
 * ```ts
 * const state = torchCpuRngState(42n); // equals torch.manual_seed(42); torch.get_rng_state()
 * ```
 */
export function torchCpuRngState(seed: bigint): Uint8Array {
  if (seed < 0n || seed >= 2n ** 64n) {
    throw new RangeError(
      `Cannot build a torch RNG state: seed must be in [0, 2^64), received ${seed}`,
    );
  }
  const out = new Uint8Array(TORCH_CPU_RNG_STATE_BYTES);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, seed, true);
  dv.setInt32(8, 1, true); // left: the state is regenerated on the first draw
  dv.setInt32(12, 1, true); // seeded
  dv.setBigUint64(16, 0n, true); // next
  // mt19937's initialisation from the low 32 bits of the seed.
  let s = Number(seed & 0xffffffffn);
  for (let j = 0; j < 624; j++) {
    if (j > 0) s = (Math.imul(1812433253, s ^ (s >>> 30)) + j) >>> 0;
    dv.setBigUint64(24 + 8 * j, BigInt(s), true);
  }
  return out;
}
