/**
 * End to end: the demo server, headless Chromium with a software WebGPU adapter, a small
 * in-page sample, 2 epochs of a tiny model, then the downloaded checkpoint evaluated in Deno.
 */
import assert from "#assert";
import { unzipSync } from "fflate";
import { selectBackend } from "../../src/runtime/backend.ts";
import { readCheckpoint, restoreClassifier } from "../../src/train/checkpoint.ts";
import { predictProbabilities } from "../../src/train/validate.ts";
import { generateDemoDataset } from "../../web/_dataset.ts";
import { startDemoServer } from "../../web/server_deno.ts";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import {
  type BrowserSession,
  openBrowser,
  skipUnlessChromium,
  waitForTrainingEnd,
} from "./_browser.ts";

/** Small enough for SwiftShader, big enough that every class shows up in val. */
const SAMPLE = { trainRows: 96, valRows: 48, steps: 16, seed: 7 };
const PARAMS = {
  hiddenSize: "8",
  numLayers: "1",
  epochs: "2",
  batchSize: "32",
  lr: "0.01",
  seed: "3",
};
/** Generous: cold shader compiles on SwiftShader take a while. */
const TRAIN_TIMEOUT_MS = 420_000;

interface PageState {
  status: string;
  runtime: { backend: string; adapter: string | null; reason: string } | null;
  epochs: { epoch: number; train_loss: number; val_loss: number; epoch_seconds: number }[];
  error: string | null;
  resultsFrom: { kind: string; epoch: number } | null;
  valProbabilities: number[][] | null;
  temperature: number | null;
  confusion: number[][] | null;
  trainMillis: number | null;
  lstmPath: string | null;
}

const ROOT = new URL("../../", import.meta.url).pathname;
const ignore = await skipUnlessChromium();

Deno.test({
  name:
    "demo page trains 2 epochs on WebGPU in headless Chromium and its checkpoint predicts the same in Deno",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "demo-e2e-" });
    const server = await startDemoServer({ port: 0 });
    let browser: BrowserSession | null = null;
    let passed = false;
    try {
      browser = await openBrowser(dir);
      const page = browser.page;
      const readState = () =>
        page.evaluate(() =>
          (globalThis as unknown as { componentXDemo: unknown }).componentXDemo
        ) as Promise<PageState>;

      await t.step("the page loads and offers the train CLI's defaults", async () => {
        await page.goto(server.url);
        await page.waitForFunction(() =>
          (document.getElementById("log")?.textContent ?? "").includes("tfjs")
        );
        const { DEFAULT_TRAIN_CONFIG } = await import("../../src/train/config.ts");
        assert.equal(
          await page.inputValue("[name=hiddenSize]"),
          String(DEFAULT_TRAIN_CONFIG.model.hiddenSize),
        );
        assert.equal(
          await page.inputValue("[name=epochs]"),
          String(DEFAULT_TRAIN_CONFIG.loop.epochs),
        );
        assert.equal(await page.inputValue("[name=lr]"), String(DEFAULT_TRAIN_CONFIG.loop.lr));
        assert.equal(await page.isDisabled("#train"), true);
      });

      await t.step("generate sample shows the dataset summary", async () => {
        await page.fill("#sample-train-rows", String(SAMPLE.trainRows));
        await page.fill("#sample-val-rows", String(SAMPLE.valRows));
        await page.fill("#sample-steps", String(SAMPLE.steps));
        await page.fill("#sample-seed", String(SAMPLE.seed));
        await page.click("#generate-sample");
        await page.waitForSelector("#summary-table");
        const cells = await page.$$eval(
          "#summary-table tbody tr",
          (rows) => rows.map((r) => Array.from(r.querySelectorAll("td")).map((c) => c.textContent)),
        );
        assert.equal(cells.length, 2);
        assert.deepEqual(cells[0].slice(0, 3), [
          String(SAMPLE.trainRows),
          String(SAMPLE.steps),
          "105",
        ]);
        assert.deepEqual(cells[1].slice(0, 3), [
          String(SAMPLE.valRows),
          String(SAMPLE.steps),
          "105",
        ]);
        const valCounts = cells[1].slice(4).map(Number);
        assert.equal(valCounts.reduce((a, b) => a + b, 0), SAMPLE.valRows);
      });

      await t.step("training runs 2 epochs on the webgpu backend", async () => {
        for (const [name, value] of Object.entries(PARAMS)) {
          await page.fill(`[name=${name}]`, value);
        }
        await page.selectOption("[name=device]", "webgpu");
        await page.click("#train");
        const state = await waitForTrainingEnd<PageState>(page, { timeout: TRAIN_TIMEOUT_MS });
        assert.equal(state.error, null, `page error: ${state.error}`);
        assert.equal(state.status, "done");
        assert.equal(state.runtime?.backend, "webgpu", `backend: ${JSON.stringify(state.runtime)}`);
        assert.match(state.runtime!.adapter ?? "", /swiftshader/i);
        assert.equal(state.lstmPath, "fused WebGPU LSTM kernels (src/kernels)");
        const badge = await page.textContent("#backend");
        assert.match(badge ?? "", /backend: webgpu/);
        assert.equal(state.epochs.length, 2);
        for (const m of state.epochs) {
          assert.ok(
            Number.isFinite(m.train_loss) && Number.isFinite(m.val_loss),
            JSON.stringify(m),
          );
        }
        assert.ok(
          state.epochs[1].train_loss < state.epochs[0].train_loss,
          `train loss did not fall: ${state.epochs.map((m) => m.train_loss)}`,
        );
        const seconds = state.epochs.map((m) => m.epoch_seconds.toFixed(2)).join(", ");
        console.log(`page epoch seconds (webgpu, SwiftShader): ${seconds}`);
      });

      await t.step("the confusion matrix and per-class F1 are rendered", async () => {
        const state = await readState();
        const counts = await page.$$eval(
          "#confusion td[data-count]",
          (cells) => cells.map((c) => Number((c as HTMLElement).dataset.count)),
        );
        assert.equal(counts.length, 25);
        assert.equal(counts.reduce((a, b) => a + b, 0), SAMPLE.valRows);
        assert.deepEqual(counts, state.confusion!.flat());
        const f1 = await page.$$eval("#per-class td[data-f1]", (cells) => cells.length);
        assert.equal(f1, 5 + 2); // five classes, macro and weighted averages
        assert.equal(await page.isVisible("#results-card"), true);
      });

      const screenshot = `${dir}/demo.png`;
      await page.screenshot({ path: screenshot, fullPage: true });
      console.log(`screenshot: ${screenshot}`);

      await t.step(
        "the downloaded checkpoint predicts the same probabilities in Deno",
        async () => {
          const state = await readState();
          const [download] = await Promise.all([
            page.waitForEvent("download"),
            page.click("#download-checkpoint"),
          ]);
          const zipPath = `${dir}/${download.suggestedFilename()}`;
          await download.saveAs(zipPath);
          const files = unzipSync(await Deno.readFile(zipPath));
          const best: Record<string, Uint8Array> = {};
          for (const [name, bytes] of Object.entries(files)) {
            if (name.startsWith(`${state.resultsFrom!.kind}/`)) {
              best[name.slice(state.resultsFrom!.kind.length + 1)] = bytes;
            }
          }
          assert.ok(Object.keys(best).length > 0, `zip members: ${Object.keys(files)}`);
          assert.ok(files["metrics.csv"] && files["feature_stats.json"]);

          // Deno side: the same seeded sample, the wasm backend, the checkpoint from the page.
          const runtime = await selectBackend("wasm");
          assert.equal(runtime.backend, "wasm");
          const data = generateDemoDataset(SAMPLE);
          const checkpoint = readCheckpoint(best);
          assert.equal(checkpoint.epoch, state.resultsFrom!.epoch);
          const model = restoreClassifier(checkpoint);
          // The page shows the probabilities scaled by the checkpoint's temperature.
          assert.ok(checkpoint.temperature! > 0, "the checkpoint holds a temperature");
          assert.equal(state.temperature, checkpoint.temperature);
          const probabilities = await predictProbabilities(model, data.val, {
            batchSize: 16,
            temperature: checkpoint.temperature!,
          });
          model.dispose();
          const pageProbabilities = state.valProbabilities!;
          assert.equal(probabilities.length, pageProbabilities.length);
          let worst = 0;
          for (let i = 0; i < probabilities.length; i++) {
            for (let c = 0; c < 5; c++) {
              worst = Math.max(worst, Math.abs(probabilities[i][c] - pageProbabilities[i][c]));
            }
          }
          console.log(`max |p_deno - p_page| = ${worst.toExponential(2)}`);
          assert.ok(worst < 1e-4, `probabilities differ by up to ${worst}`);

          // And `deno task evaluate` reads the unzipped folder as it is.
          const root = `${dir}/unzipped`;
          for (const [name, bytes] of Object.entries(files)) {
            const folder = name.split("/").slice(0, -1).join("/");
            await Deno.mkdir(`${root}/${folder}`, { recursive: true });
            await Deno.writeFile(`${root}/${name}`, bytes);
          }
          const evaluated = await new Deno.Command(Deno.execPath(), {
            args: [
              "run",
              "-A",
              `${ROOT}/cli/evaluate.ts`,
              "--checkpoint",
              `${root}/${state.resultsFrom!.kind}`,
              "--npz",
              `${root}/data/val_sequences.npz`,
              "--feature-stats",
              `${root}/feature_stats.json`,
              "--output-dir",
              `${root}/evaluation`,
              "--device",
              "cpu",
            ],
            stdout: "piped",
            stderr: "piped",
          }).output();
          const dec = new TextDecoder();
          assert.equal(
            evaluated.code,
            0,
            `deno task evaluate failed:\n${dec.decode(evaluated.stdout)}${
              dec.decode(evaluated.stderr)
            }`,
          );
          const csv = (await Deno.readTextFile(`${root}/evaluation/predictions.csv`)).trim()
            .split("\n");
          const header = csv[0].split(",");
          assert.equal(csv.length - 1, pageProbabilities.length);
          let worstCli = 0;
          csv.slice(1).forEach((line, i) => {
            const cells = line.split(",");
            for (let c = 0; c < 5; c++) {
              const p = Number(cells[header.indexOf(`cal_p${c}`)]);
              worstCli = Math.max(worstCli, Math.abs(p - pageProbabilities[i][c]));
            }
          });
          console.log(`deno task evaluate: max |p_cli - p_page| = ${worstCli.toExponential(2)}`);
          assert.ok(worstCli < 1e-4, `evaluate's probabilities differ by up to ${worstCli}`);
        },
      );

      await t.step(
        "metrics.csv download has the contract header and one row per epoch",
        async () => {
          const state = await readState();
          const [download] = await Promise.all([
            page.waitForEvent("download"),
            page.click("#download-metrics"),
          ]);
          assert.equal(download.suggestedFilename(), "metrics.csv");
          const path = `${dir}/metrics.csv`;
          await download.saveAs(path);
          const lines = (await Deno.readTextFile(path)).trim().split("\n");
          assert.ok(
            lines[0].startsWith("epoch,train_loss,train_acc,val_loss,val_acc,val_macro_f1,lr"),
            lines[0],
          );
          assert.equal(lines.length, 3);
          const header = lines[0].split(",");
          const row = lines[2].split(",");
          assert.equal(Number(row[header.indexOf("epoch")]), 1, "epochs count from 0");
          assert.equal(Number(row[header.indexOf("train_loss")]), state.epochs[1].train_loss);
        },
      );
      await t.step("Stop ends a long run early while the page stays responsive", async () => {
        await page.fill("[name=epochs]", "60");
        await page.click("#train");
        await page.waitForFunction(() =>
          (globalThis as unknown as { componentXDemo: { epochs: unknown[]; status: string } })
            .componentXDemo.status === "training"
        );
        // While it trains, the main thread must answer quickly (the loop yields to the UI).
        let slowest = 0;
        for (let i = 0; i < 5; i++) {
          const started = performance.now();
          await page.evaluate(() => document.getElementById("progress")?.getAttribute("value"));
          slowest = Math.max(slowest, performance.now() - started);
          await new Promise((r) => setTimeout(r, 200));
        }
        console.log(`slowest page round trip while training: ${slowest.toFixed(0)} ms`);
        assert.ok(slowest < 3000, `the page froze for ${slowest} ms`);
        await page.click("#stop");
        await page.waitForFunction(
          () =>
            (globalThis as unknown as { componentXDemo: { status: string } }).componentXDemo
              .status !== "training",
          null,
          { timeout: 120_000 },
        );
        const state = await readState();
        assert.equal(state.status, "stopped", `status ${state.status}, error ${state.error}`);
        assert.ok(state.epochs.length < 60, `ran ${state.epochs.length} epochs`);
        assert.match((await page.textContent("#status")) ?? "", /^Stopped: /);
      });
      passed = true;
    } finally {
      if (!passed && browser) {
        console.error(`--- page console (${browser.console.length} lines) ---`);
        console.error(browser.console.join("\n"));
        console.error(`--- end of page console; artifacts in ${dir} ---`);
        await browser.page.screenshot({ path: `${dir}/failure.png`, fullPage: true })
          .then(() => console.error(`failure screenshot: ${dir}/failure.png`))
          .catch(() => {});
      }
      await browser?.close();
      await server.close();
    }
  },
});

Deno.test({
  name: "demo page without a WebGPU adapter says so, offers wasm, and trains on it",
  ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "demo-e2e-nogpu-" });
    const server = await startDemoServer({ port: 0 });
    const browser = await openBrowser(dir, { webgpu: false });
    let passed = false;
    try {
      const page = browser.page;
      await page.goto(server.url);
      await page.waitForSelector("#webgpu-missing:not([hidden])");
      assert.match(
        (await page.textContent("#webgpu-missing")) ?? "",
        /no WebGPU adapter.*wasm backend/,
      );
      assert.equal(await page.inputValue("[name=device]"), "wasm");
      await page.fill("#sample-train-rows", "48");
      await page.fill("#sample-val-rows", "24");
      await page.fill("#sample-steps", "8");
      await page.click("#generate-sample");
      await page.waitForSelector("#summary-table");
      for (const [name, value] of Object.entries({ ...PARAMS, epochs: "1" })) {
        await page.fill(`[name=${name}]`, value);
      }
      // Errors are shown, never a silent fallback: WebGPU asked for without an adapter, bad lr.
      const errorAfterTrain = async () => {
        await page.click("#train");
        await page.waitForSelector("#status[data-state=error]");
        return (await page.textContent("#status")) ?? "";
      };
      await page.selectOption("[name=device]", "webgpu");
      assert.match(
        await errorAfterTrain(),
        /^Cannot start training: Cannot use --device webgpu: this runtime offers no WebGPU adapter/,
      );
      await page.selectOption("[name=device]", "wasm");
      await page.fill("[name=lr]", "0");
      assert.equal(
        await errorAfterTrain(),
        'Cannot start training: Cannot use learning rate "0": expected a number > 0',
      );
      await page.fill("[name=lr]", PARAMS.lr);
      await page.click("#train");
      const state = await waitForTrainingEnd<PageState>(page, { timeout: 120_000 });
      assert.equal(state.error, null, `page error: ${state.error}`);
      assert.equal(state.runtime?.backend, "wasm");
      assert.equal(state.runtime?.adapter, null);
      // The page is cross-origin isolated, so the CPU kernels use every core it reports.
      const cores = await page.evaluate(() => navigator.hardwareConcurrency);
      assert.equal(
        state.lstmPath,
        `CPU LSTM kernels (src/kernels, WebAssembly SIMD) on ${cores} thread${
          cores === 1 ? "" : "s"
        }`,
      );
      assert.equal(state.epochs.length, 1);
      assert.ok(Number.isFinite(state.epochs[0].train_loss));
      passed = true;
    } finally {
      if (!passed) {
        console.error(`--- page console ---\n${browser.console.join("\n")}\n--- end ---`);
      }
      await browser.close();
      await server.close();
    }
  },
});

const WRITE_NPZ = `
import json, sys
import numpy as np
out = sys.argv[1]
rng = np.random.default_rng(5)
summary = {}
for name, n in (("train", 20), ("val", 10)):
    T, F = 12, 105
    x = rng.normal(size=(n, T, F)).astype(np.float32)
    x[rng.random(size=x.shape) < 0.05] = np.nan
    lengths = rng.integers(1, T + 1, size=n)
    for i, l in enumerate(lengths):
        x[i, : T - l] = 0.0
    labels = rng.integers(0, 5, size=n)
    np.savez_compressed(f"{out}/{name}.npz", sequences=x, labels=labels.astype(np.int64),
                        seq_lengths=lengths.astype(np.int64),
                        vehicle_ids=np.arange(n, dtype=np.int64))
    summary[name] = [str(n), str(T), str(F), float(lengths.mean())] + \\
        [str(c) for c in np.bincount(labels, minlength=5)]
np.savez_compressed(f"{out}/nolengths.npz", sequences=np.zeros((2, 3, 105), np.float32),
                    labels=np.zeros(2, np.int64))
for name, n in (("k7_train", 14), ("k7_val", 7)):
    np.savez_compressed(f"{out}/{name}.npz", sequences=rng.normal(size=(n, 4, 105)).astype(np.float32),
                        labels=np.arange(n, dtype=np.int64) % 7, seq_lengths=np.full(n, 4, np.int64))
print(json.dumps(summary))
`;

Deno.test({
  name: "demo page loads numpy-written .npz files with a feature_stats.json and reports bad files",
  ignore: ignore || await skipUnlessPython("numpy"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "demo-e2e-files-" });
    const expected = await pythonJson(WRITE_NPZ, { args: [dir] }) as Record<string, string[]>;
    const stats = `${dir}/feature_stats.json`; // the real stats, under the name users pick
    await Deno.copyFile(
      new URL("../../src/data/component_x_feature_stats.json", import.meta.url),
      stats,
    );
    const server = await startDemoServer({ port: 0 });
    const browser = await openBrowser(dir);
    let passed = false;
    try {
      const page = browser.page;
      await page.goto(server.url);
      await page.waitForFunction(() =>
        (document.getElementById("log")?.textContent ?? "").includes("tfjs")
      );
      await t.step("the summary equals numpy's counts", async () => {
        await page.setInputFiles("#train-file", `${dir}/train.npz`);
        await page.setInputFiles("#val-file", `${dir}/val.npz`);
        await page.setInputFiles("#stats-file", stats);
        await page.click("#load-files");
        await page.waitForSelector("#summary-table");
        const cells = await page.$$eval(
          "#summary-table tbody tr",
          (rows) => rows.map((r) => Array.from(r.querySelectorAll("td")).map((c) => c.textContent)),
        );
        // Mean valid length is shown rounded to 0.1: compare it as a number.
        const split = (row: (string | null)[]) => [row.slice(0, 3), Number(row[3]), row.slice(4)];
        for (const [row, want] of [[cells[0], expected.train], [cells[1], expected.val]]) {
          const [head, mean, counts] = split(row);
          const [wantHead, wantMean, wantCounts] = split(want as (string | null)[]);
          assert.deepEqual([head, counts], [wantHead, wantCounts]);
          assert.ok(
            Math.abs((mean as number) - (wantMean as number)) <= 0.05 + 1e-9,
            `mean ${mean}`,
          );
        }
        assert.match(
          (await page.textContent("#data-summary")) ?? "",
          /feature stats: feature_stats\.json/,
        );
        assert.equal(await page.isDisabled("#train"), false);
      });
      await t.step("7-class files show 7 class columns (K from the labels)", async () => {
        await page.setInputFiles("#train-file", `${dir}/k7_train.npz`);
        await page.setInputFiles("#val-file", `${dir}/k7_val.npz`);
        await page.click("#load-files");
        await page.waitForFunction(() =>
          document.querySelectorAll("#summary-table thead th").length === 12
        );
        const head = await page.$$eval(
          "#summary-table thead th",
          (h) => h.map((c) => c.textContent),
        );
        assert.deepEqual(head.slice(5), ["0", "1", "2", "3", "4", "5", "6"]);
        const counts = await page.$$eval(
          "#summary-table tbody tr",
          (rows) =>
            rows.map((r) =>
              Array.from(r.querySelectorAll("td")).slice(4).map((c) => c.textContent)
            ),
        );
        assert.deepEqual(counts, [["2", "2", "2", "2", "2", "2", "2"], [
          "1",
          "1",
          "1",
          "1",
          "1",
          "1",
          "1",
        ]]);
      });
      await t.step(
        "a file without seq_lengths or mask is an error naming the members",
        async () => {
          await page.setInputFiles("#train-file", `${dir}/nolengths.npz`);
          await page.click("#load-files");
          await page.waitForSelector("#status[data-state=error]");
          const text = (await page.textContent("#status")) ?? "";
          assert.match(text, /^Cannot load the files: Cannot load sequences from nolengths\.npz: /);
          assert.match(text, /members: sequences, labels/);
        },
      );
      passed = true;
    } finally {
      if (!passed) {
        console.error(`--- page console ---\n${browser.console.join("\n")}\n--- end ---`);
      }
      await browser.close();
      await server.close();
    }
  },
});
