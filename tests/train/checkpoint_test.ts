import assert from "#assert";
import { readCheckpointDir, writeCheckpointDir } from "../../src/train/checkpoint_dir_deno.ts";
import { combineHooks, readCheckpoint } from "../../src/train/mod.ts";

Deno.test("writeCheckpointDir() replaces a folder atomically and leaves no temporary folders", async () => {
  const root = await Deno.makeTempDir({ prefix: "ckpt_" });
  try {
    const dir = `${root}/last`;
    await writeCheckpointDir(dir, {
      "state.json": new TextEncoder().encode("{}"),
      "a.bin": new Uint8Array([1]),
    });
    await writeCheckpointDir(dir, { "state.json": new TextEncoder().encode('{"v":2}') });
    const files = await readCheckpointDir(dir);
    assert.deepEqual(Object.keys(files), ["state.json"], "old files are gone with the old folder");
    assert.equal(new TextDecoder().decode(files["state.json"]), '{"v":2}');
    assert.deepEqual([...Deno.readDirSync(root)].map((e) => e.name), ["last"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("readCheckpointDir() names the folder and a hint when it is missing or not a checkpoint", async () => {
  const root = await Deno.makeTempDir({ prefix: "ckpt_" });
  try {
    await assert.rejects(
      () => readCheckpointDir(`${root}/nope`),
      (e: Error) =>
        e.message ===
          `Cannot read checkpoint ${root}/nope: folder not found; pass a checkpoint folder such as ` +
            "<output-dir>/last or <output-dir>/best",
    );
    Deno.writeTextFileSync(`${root}/x.txt`, "");
    await assert.rejects(
      () => readCheckpointDir(root),
      (e: Error) =>
        e.message ===
          `Cannot read checkpoint ${root}: no state.json in it (files: x.txt); pass a checkpoint folder such as <output-dir>/last`,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("readCheckpoint() rejects missing files and an unknown format", () => {
  assert.throws(
    () => readCheckpoint({}),
    (e: Error) =>
      e instanceof RangeError &&
      e.message ===
        `Cannot read checkpoint: missing file "state.json" (files: none); pass a checkpoint folder such as <output-dir>/last`,
  );
  assert.throws(
    () => readCheckpoint({ "state.json": new TextEncoder().encode(`{"format": 9}`) }),
    (e: Error) =>
      e instanceof RangeError &&
      e.message ===
        "Cannot read checkpoint: state.json format 9 is not supported, expected 2 (or 1)",
  );
});

Deno.test("combineHooks() calls every subscriber in order and awaits each", async () => {
  const calls: string[] = [];
  const hooks = combineHooks([
    {
      async onEnd() {
        await new Promise((r) => setTimeout(r, 5));
        calls.push("a");
      },
    },
    {},
    { onEnd: () => void calls.push("b") },
  ]);
  await hooks.onEnd!({ status: "FINISHED", bestValF1: 0.5 });
  assert.deepEqual(calls, ["a", "b"]);
});

Deno.test("readCheckpoint() reads a format-1 state.json: loop settings and keys kept, paths and URI dropped", async () => {
  const { createLstmClassifier } = await import("../../src/model/mod.ts");
  const { writeCheckpoint, DEFAULT_LOOP_CONFIG } = await import("../../src/train/mod.ts");
  const modelConfig = {
    inputSize: 3,
    hiddenSize: 4,
    numLayers: 1,
    bidirectional: false,
    dropout: 0,
    pooling: "last" as const,
    numClasses: 5,
  };
  const model = createLstmClassifier(modelConfig, { seed: 1 });
  const weights = Object.fromEntries(
    await Promise.all(
      model.namedVariables.map(async ({ name, variable }) =>
        [name, { shape: variable.shape, data: (await variable.data()) as Float32Array }] as const
      ),
    ),
  );
  model.dispose();
  const files = writeCheckpoint({
    epoch: 3,
    stepInEpoch: 0,
    partial: null,
    bestValF1: 0.5,
    epochsWithoutImprovement: 1,
    modelConfig,
    loop: DEFAULT_LOOP_CONFIG,
    dataKeys: null,
    run: null,
    rng: { algorithm: "mulberry32", state: 1, seed: 7, epoch: 4, step: 0 },
    schedule: { lr: 1e-3, stepSize: 10, gamma: 0.5 },
    weights,
    optimizer: null,
  });
  // Format 1 held one flat config, paths and the tracking URI included.
  const v2 = JSON.parse(new TextDecoder().decode(files["state.json"]));
  const { loop: _l, dataKeys: _d, run: _r, ...rest } = v2;
  const v1 = {
    ...rest,
    format: 1,
    config: {
      trainNpz: "/secret/place/train.npz",
      outputDir: "/secret/place/out",
      mlflowTrackingUri: "http://mlflow.internal:5000",
      hiddenSize: 4,
      batchSize: 16,
      lr: 0.01,
      seed: 7,
      xKey: "X",
      yKey: "Y",
      lengthsKey: "L",
    },
  };
  const read = readCheckpoint({
    ...files,
    "state.json": new TextEncoder().encode(JSON.stringify(v1)),
  });
  assert.equal(read.epoch, 3);
  assert.deepEqual(read.loop, { ...DEFAULT_LOOP_CONFIG, batchSize: 16, lr: 0.01, seed: 7 });
  assert.deepEqual(read.dataKeys, { xKey: "X", yKey: "Y", lengthsKey: "L" });
  assert.equal(read.run, null);
  assert.ok(!JSON.stringify(read).includes("secret") && !JSON.stringify(read).includes("mlflow"));
  assert.ok(!("config" in read));
  // Written again, it is format 2 without any of the old paths.
  const again = new TextDecoder().decode(writeCheckpoint(read)["state.json"]);
  assert.equal(JSON.parse(again).format, 2);
  assert.ok(!again.includes("/secret/place"));
});
