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
      e.message === "Cannot read checkpoint: state.json format 9 is not supported, expected 1",
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
