import assert from "#assert";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import { main } from "../../cli/evaluate.ts";
import {
  createSequenceDataset,
  generateSample,
  parseFeatureStats,
  transformFeatures,
} from "../../src/data/mod.ts";
import { createLstmClassifier, type ModelConfig } from "../../src/model/mod.ts";
import { readNpz, writeNpz } from "../../src/npz/mod.ts";
import { parseDevice, selectBackend } from "../../src/runtime/mod.ts";
import {
  DEFAULT_LOOP_CONFIG,
  type HostTensor,
  predictProbabilities,
  readCheckpoint,
  restoreClassifier,
  writeCheckpoint,
} from "../../src/train/mod.ts";

const ignore = await skipUnlessPython("numpy", "sklearn");

/** numpy reads the npz and the bundle; scikit-learn recomputes the summary. */
const CHECK = `
import csv, json, sys, numpy as np
from sklearn.metrics import f1_score, confusion_matrix
z = np.load(sys.argv[1])
rows = list(csv.DictReader(open(sys.argv[2] + "/predictions.csv")))
P = np.array([[float(r[f"p{j}"]) for j in range(5)] for r in rows])
y = np.array([int(r["label"]) for r in rows])
print(json.dumps({
  "ids_match": [int(r["vehicle_id"]) for r in rows] == z["vehicle_ids"].tolist(),
  "labels_match": y.tolist() == z["labels"].tolist(),
  "row_sums": P.sum(axis=1).tolist(),
  "macro_f1": f1_score(y, P.argmax(axis=1), labels=list(range(5)), average="macro"),
}))
`;

Deno.test({
  name: "evaluate --checkpoint predicts an npz with the checkpoint's feature stats",
  ignore,
  // tfjs keeps wasm resources alive after the backend is set.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "evaluate_ckpt_test_" });
    try {
      await selectBackend(parseDevice("cpu"));
      const sample = generateSample({ trainRows: 4, valRows: 48, seed: 11, steps: 12 });
      const npzPath = `${dir}/val_sequences.npz`;
      await Deno.writeFile(npzPath, writeNpz(sample.val, { compress: true }));
      const statsJson = JSON.stringify(sample.featureStats);
      const modelConfig: ModelConfig = {
        inputSize: 105,
        hiddenSize: 8,
        numLayers: 1,
        bidirectional: true,
        dropout: 0,
        pooling: "last",
        numClasses: 5,
      };
      const model = createLstmClassifier(modelConfig, { seed: 5 });
      const weights: Record<string, HostTensor> = {};
      for (const { name, variable } of model.namedVariables) {
        weights[name] = { shape: variable.shape, data: (await variable.data()) as Float32Array };
      }
      model.dispose();
      const files = writeCheckpoint({
        epoch: 1,
        stepInEpoch: 0,
        partial: null,
        bestValF1: 0.25,
        epochsWithoutImprovement: 0,
        modelConfig,
        loop: DEFAULT_LOOP_CONFIG,
        dataKeys: null,
        run: null,
        rng: { algorithm: "mulberry32", state: 1, seed: 5, epoch: 2, step: 0 },
        schedule: { lr: 1e-3, stepSize: 10, gamma: 0.5 },
        weights,
        optimizer: null,
      });
      files["feature_stats.json"] = new TextEncoder().encode(statsJson);
      await Deno.mkdir(`${dir}/best`);
      for (const [name, bytes] of Object.entries(files)) {
        await Deno.writeFile(`${dir}/best/${name}`, bytes);
      }

      const code = await main([
        "--checkpoint",
        `${dir}/best`,
        "--npz",
        npzPath,
        "--output-dir",
        `${dir}/bundle`,
        "--device",
        "cpu",
        "--batch-size",
        "16",
      ]);
      assert.equal(code, 0);
      const sk = await pythonJson<{
        ids_match: boolean;
        labels_match: boolean;
        row_sums: number[];
        macro_f1: number;
      }>(CHECK, { args: [npzPath, `${dir}/bundle`] });
      assert.ok(sk.ids_match, "vehicle ids come from the npz, row for row");
      assert.ok(sk.labels_match, "labels come from the npz, row for row");
      for (const s of sk.row_sums) assert.ok(Math.abs(s - 1) < 1e-5, `row sums to ${s}`);
      const summary = JSON.parse(await Deno.readTextFile(`${dir}/bundle/summary_metrics.json`));
      assert.ok(Math.abs(summary.macro_f1 - sk.macro_f1) <= 1e-9);

      // The CLI must have transformed the data with the checkpoint's stats: predicting the
      // transformed data directly gives the same probabilities, the raw data does not.
      const predict = async (transform: boolean) => {
        const data = createSequenceDataset(readNpz(await Deno.readFile(npzPath)));
        if (transform) {
          transformFeatures(
            data.x,
            [data.size, data.steps, data.features],
            data.lengths,
            parseFeatureStats(JSON.parse(statsJson)),
          );
        }
        const m = restoreClassifier(readCheckpoint(files));
        try {
          return await predictProbabilities(m, data, { batchSize: 16 });
        } finally {
          m.dispose();
        }
      };
      const csv = (await Deno.readTextFile(`${dir}/bundle/predictions.csv`)).trim().split("\n")
        .slice(1);
      // vehicle_id,label,pred,p0..p4, then pred_min_cost (Component X has a cost matrix).
      const fromCsv = csv.map((line) => line.split(",").slice(3, 8).map(Number));
      const transformed = await predict(true);
      const raw = await predict(false);
      const maxDiff = (p: Float32Array[]) =>
        Math.max(...fromCsv.flatMap((row, i) => row.map((v, j) => Math.abs(v - p[i][j]))));
      assert.ok(maxDiff(transformed) < 1e-6, `transformed: max diff ${maxDiff(transformed)}`);
      // Raw data holds NaN holes and unscaled counters: its probabilities differ (or are NaN).
      assert.ok(
        !(maxDiff(raw) <= 1e-4),
        "the raw (untransformed) data must give other probabilities",
      );
      const html = await Deno.readTextFile(`${dir}/bundle/index.html`);
      assert.ok(html.includes(`${dir}/best/feature_stats.json`), "index.html names the stats used");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
