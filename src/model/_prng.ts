/**
 * A small seeded PRNG (mulberry32) for host-side weight initialisation and for deriving
 * per-site dropout seeds. Private to `src/model/`.
 *
 * @module
 */
import { SeededRng } from "../data/seeded_rng.ts";

/** Returns a function yielding uniform floats in [0, 1), fully determined by `seed`. */
export function mulberry32(seed: number): () => number {
  const rng = new SeededRng(seed);
  return () => rng.next();
}

/** Mixes two integers into one 32-bit seed (splitmix-style finaliser). */
export function mixSeed(a: number, b: number): number {
  let h = (Math.imul(a >>> 0, 0x9e3779b1) ^ (b >>> 0)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
