/**
 * Per-epoch cost of MLflow logging to a local mlruns folder: one epoch's metrics plus a
 * 1 MB `last` checkpoint, enqueued and flushed, against writing that checkpoint to disk
 * once (what training already does without --mlflow).
 */
import { FileStore } from "../src/tracking/file_store.ts";
import { absolutePath, denoFileSystem } from "../src/tracking/file_system_deno.ts";
import { RunLogger } from "../src/tracking/run_logger.ts";
import { getOrCreateExperiment } from "../src/tracking/tracking_store.ts";

const dir = await Deno.makeTempDir({ prefix: "tracking_bench_" });
const store = new FileStore(denoFileSystem(), absolutePath(`${dir}/mlruns`));
const exp = await getOrCreateExperiment(store, "bench");
const run = await store.createRun({
  experimentId: exp,
  runName: "bench",
  userId: "b",
  startTime: Date.now(),
});
const logger = new RunLogger({ store, runId: run.runId });
const weights = new Uint8Array(1 << 20).map((_, i) => i & 255);
let epoch = 0;

Deno.bench(
  { group: "epoch", name: "checkpoint write only (no tracking)", baseline: true },
  async () => {
    await Deno.writeFile(`${dir}/model.safetensors`, weights);
  },
);

Deno.bench(
  { group: "epoch", name: "RunLogger + FileStore: 8 metrics + 1 MB checkpoint, flushed" },
  async () => {
    epoch++;
    logger.logMetrics({
      train_loss: 1 / epoch,
      train_acc: 0.5,
      val_loss: 0.7,
      val_acc: 0.6,
      val_macro_f1: 0.4,
      lr: 1e-3,
      val_cost: 100,
      epoch_seconds: 3,
    }, epoch);
    logger.logArtifact("checkpoints/last/model.safetensors", weights);
    await logger.flush();
  },
);

Deno.bench({ group: "hooks", name: "hooks only (enqueue, no await)" }, () => {
  epoch++;
  logger.logMetrics({ a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8 }, epoch);
});

globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
