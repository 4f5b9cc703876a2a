/**
 * Measures per-epoch time of the browser demo (headless Chromium: WebGPU on SwiftShader,
 * and wasm) against `deno task train` (WebGPU on Mesa llvmpipe, and wasm) on the same
 * generated data and the same hyperparameters. Not a test: run it by hand.
 *
 *   MESA_SHADER_CACHE_DIR=.cache/mesa deno run -A tests/web/_measure_epoch_time.ts \
 *     [trainRows valRows steps hiddenSize epochs pageLogInterval]
 */
import { generateDemoDataset } from "../../web/_dataset.ts";
import { startDemoServer } from "../../web/server_deno.ts";
import { openBrowser, waitForTrainingEnd } from "./_browser.ts";

const [trainRows, valRows, steps, hiddenSize, epochs, logInterval] =
  (Deno.args.length ? Deno.args : [
    "512",
    "256",
    "32",
    "32",
    "3",
    "0",
  ]).map(Number);
const SAMPLE = { trainRows, valRows, steps, seed: 11 };
const PARAMS: Record<string, string> = {
  hiddenSize: String(hiddenSize),
  numLayers: "1",
  epochs: String(epochs),
  batchSize: "64",
  lr: "0.001",
  seed: "5",
  // 0 = the page's automatic interval (about 25 reports per epoch).
  logInterval: logInterval ? String(logInterval) : "",
};
const ROOT = new URL("../../", import.meta.url).pathname;
const dir = await Deno.makeTempDir({ prefix: "demo-measure-" });
const results: Record<string, number[]> = {};

// --- the page ---
const server = await startDemoServer({ port: 0 });
const browser = await openBrowser(dir);
try {
  const page = browser.page;
  await page.goto(server.url);
  await page.waitForFunction(() =>
    (document.getElementById("log")?.textContent ?? "").includes("tfjs")
  );
  await page.fill("#sample-train-rows", String(SAMPLE.trainRows));
  await page.fill("#sample-val-rows", String(SAMPLE.valRows));
  await page.fill("#sample-steps", String(SAMPLE.steps));
  await page.fill("#sample-seed", String(SAMPLE.seed));
  await page.click("#generate-sample");
  await page.waitForSelector("#summary-table");
  for (const device of ["webgpu", "wasm"]) {
    for (const [name, value] of Object.entries(PARAMS)) await page.fill(`[name=${name}]`, value);
    await page.selectOption("[name=device]", device);
    await page.click("#train");
    const state = await waitForTrainingEnd<{
      error: string | null;
      runtime: { backend: string };
      epochs: { epoch_seconds: number }[];
    }>(page, { timeout: 900_000, polling: 1000 });
    if (state.error) throw new Error(`page: ${state.error}`);
    results[`page ${state.runtime.backend}`] = state.epochs.map((m) => m.epoch_seconds);
  }
  await page.screenshot({ path: `${dir}/measure.png`, fullPage: true });
} finally {
  await browser.close();
  await server.close();
}

// --- deno task train on the same bytes ---
const data = generateDemoDataset(SAMPLE);
for (const [name, bytes] of Object.entries(data.npzFiles)) {
  await Deno.mkdir(`${dir}/${name.split("/")[0]}`, { recursive: true });
  await Deno.writeFile(`${dir}/${name}`, bytes);
}
await Deno.writeTextFile(`${dir}/feature_stats.json`, data.featureStatsJson);
for (const device of ["webgpu", "cpu"]) {
  const out = `${dir}/train-${device}`;
  const child = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${ROOT}/cli/train.ts`,
      "--train-npz",
      `${dir}/data/train_sequences.npz`,
      "--val-npz",
      `${dir}/data/val_sequences.npz`,
      "--feature-stats",
      `${dir}/feature_stats.json`,
      "--output-dir",
      out,
      "--hidden-size",
      PARAMS.hiddenSize,
      "--num-layers",
      PARAMS.numLayers,
      "--epochs",
      PARAMS.epochs,
      "--batch-size",
      PARAMS.batchSize,
      "--lr",
      PARAMS.lr,
      "--seed",
      PARAMS.seed,
      "--device",
      device,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (child.code !== 0) {
    throw new Error(
      `deno task train --device ${device} failed:\n${new TextDecoder().decode(child.stderr)}`,
    );
  }
  const lines = (await Deno.readTextFile(`${out}/metrics.csv`)).trim().split("\n");
  const header = lines[0].split(",");
  const column = header.indexOf("epoch_seconds");
  results[`deno task train --device ${device}`] = lines.slice(1).map((l) =>
    Number(l.split(",")[column])
  );
}

console.log(
  `data: train ${trainRows} rows, val ${valRows} rows, ${steps} steps, 105 features; model: ` +
    `hidden ${hiddenSize}, 1 layer, batch 64, ${epochs} epochs`,
);
for (const [what, seconds] of Object.entries(results)) {
  const later = seconds.slice(1);
  const mean = later.length ? later.reduce((a, b) => a + b, 0) / later.length : NaN;
  console.log(
    `${what.padEnd(34)} epochs: ${seconds.map((s) => s.toFixed(2)).join(", ")} s; ` +
      `mean after the first: ${mean.toFixed(2)} s`,
  );
}
console.log(`artifacts: ${dir}`);
