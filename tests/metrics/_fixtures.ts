/**
 * Shared inputs for the eval tests: seeded random predictions with the edge cases the
 * issue names (ties in scores, a class absent from the labels, a class never predicted).
 */
import { SeededRng } from "../../src/data/mod.ts";

/** A small deterministic PRNG (mulberry32) so every test sees the same data. */
export function seededRandom(seed: number): () => number {
  const rng = new SeededRng(seed);
  return () => rng.next();
}

/** Predictions for one case: labels, argmax predictions and probabilities. */
export interface PredictionCase {
  name: string;
  labels: number[];
  probabilities: number[][];
}

/**
 * Random softmax-like probabilities rounded to `decimals` (rounding creates ties).
 * `absentLabel` never appears in the labels; `neverPredicted` never wins the argmax.
 */
export function makeCase(
  name: string,
  seed: number,
  n: number,
  options: { absentLabel?: number; neverPredicted?: number; decimals?: number } = {},
): PredictionCase {
  const rand = seededRandom(seed);
  const k = 5;
  const decimals = options.decimals ?? 2;
  const labels: number[] = [];
  const probabilities: number[][] = [];
  for (let i = 0; i < n; i++) {
    let y = Math.floor(rand() * k);
    if (y === options.absentLabel) y = (y + 1) % k;
    labels.push(y);
    const raw = Array.from({ length: k }, (_, j) => rand() + (j === y ? 0.6 * rand() : 0));
    if (options.neverPredicted !== undefined) raw[options.neverPredicted] *= 0.1;
    const s = raw.reduce((a, b) => a + b, 0);
    const scale = 10 ** decimals;
    probabilities.push(raw.map((v) => Math.round((v / s) * scale) / scale));
  }
  return { name, labels, probabilities };
}

/** The cases every sklearn comparison runs on. */
export const CASES: readonly PredictionCase[] = [
  makeCase("random with ties", 1, 300),
  makeCase("class 2 absent from the labels", 2, 200, { absentLabel: 2 }),
  makeCase("class 3 never predicted", 3, 200, { neverPredicted: 3 }),
  makeCase("coarse scores (many ties)", 4, 150, { decimals: 1 }),
];
