/** The predictions the PNG tests draw (deterministic, every class present). */
import type { EvaluationInput } from "../../src/report/evaluation_bundle.ts";

/** 60 windows, 5 classes, probabilities that make every curve and bin non-trivial. */
export function pngTestInput(): EvaluationInput {
  const labels = Array.from({ length: 60 }, (_, i) => i % 5);
  const probabilities = labels.map((y, i) =>
    [0, 1, 2, 3, 4].map((c) => (c === y ? 0.3 + (i % 7) / 20 : (i * (c + 3)) % 5 / 40 + 0.05))
  );
  return { labels, probabilities, meta: { created: "fixed" } };
}
