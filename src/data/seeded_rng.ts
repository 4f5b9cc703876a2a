/**
 * A seeded PRNG whose whole state is one 32-bit integer, so checkpoints can store it.
 *
 * @module
 */

/** Serialisable state of a {@link SeededRng}. */
export interface RngState {
  readonly algorithm: "mulberry32";
  readonly state: number;
}

/** Mixes integers into one 32-bit seed (splitmix-style finaliser); order matters. */
export function deriveSeed(...parts: number[]): number {
  let h = 0x2545f491;
  for (const p of parts) {
    h = (Math.imul(h ^ (p >>> 0), 0x9e3779b1) + 0x7f4a7c15) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h;
}

/** mulberry32 with state you can save and restore. */
export class SeededRng {
  #a: number;

  /** Starts from a seed. */
  constructor(seed: number) {
    this.#a = seed >>> 0;
  }

  /** Restores a generator from {@link SeededRng.getState}. */
  static fromState(state: RngState): SeededRng {
    if (state?.algorithm !== "mulberry32" || !Number.isInteger(state.state)) {
      throw new TypeError(
        `Cannot restore RNG state: expected {algorithm: "mulberry32", state: <uint32>}, received ${
          JSON.stringify(state)
        }`,
      );
    }
    return new SeededRng(state.state);
  }

  /** A uniform float in [0, 1). */
  next(): number {
    this.#a = (this.#a + 0x6d2b79f5) >>> 0;
    let t = this.#a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A uniform integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** The state, as plain JSON. */
  getState(): RngState {
    return { algorithm: "mulberry32", state: this.#a };
  }
}
