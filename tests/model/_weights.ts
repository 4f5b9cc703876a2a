/** Asserting two classifiers hold the same weights. */
import assert from "#assert";
import type { LstmClassifier } from "../../src/model/mod.ts";

/** Asserts every variable of `b` equals the same-named variable of `a`, exactly. */
export async function assertSameWeights(b: LstmClassifier, a: LstmClassifier): Promise<void> {
  for (let k = 0; k < a.namedVariables.length; k++) {
    assert.deepEqual(
      await b.namedVariables[k].variable.data(),
      await a.namedVariables[k].variable.data(),
      a.namedVariables[k].name,
    );
  }
}
