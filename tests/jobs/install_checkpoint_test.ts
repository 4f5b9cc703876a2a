import assert from "#assert";
import { installBestCheckpoint } from "../../src/jobs/install_checkpoint_deno.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("installBestCheckpoint() swaps best in and keeps one previous", async () => {
  const dir = await Deno.makeTempDir({ prefix: "install_ckpt_" });
  try {
    const first = await installBestCheckpoint(dir, new Map([["state.json", bytes("1")]]));
    assert.deepEqual(first, { best: `${dir}/best`, previous: null });
    await installBestCheckpoint(
      dir,
      new Map([["state.json", bytes("2")], ["sub/w.bin", bytes("w")]]),
    );
    const third = await installBestCheckpoint(dir, new Map([["state.json", bytes("3")]]));
    assert.equal(third.previous, `${dir}/best.previous`);
    assert.equal(await Deno.readTextFile(`${dir}/best/state.json`), "3");
    assert.equal(await Deno.readTextFile(`${dir}/best.previous/state.json`), "2");
    assert.equal(await Deno.readTextFile(`${dir}/best.previous/sub/w.bin`), "w");
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names.sort(), ["best", "best.previous"], "no temporary folder is left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("installBestCheckpoint() leaves best untouched when a file cannot be written", async () => {
  const dir = await Deno.makeTempDir({ prefix: "install_ckpt_" });
  try {
    await installBestCheckpoint(dir, new Map([["state.json", bytes("good")]]));
    await assert.rejects(
      () => installBestCheckpoint(dir, new Map([["ok.bin", bytes("x")], ["../evil", bytes("x")]])),
      {
        name: "Error",
        message: `Cannot install checkpoint into ${dir}/best: Cannot install checkpoint: ` +
          `file "../evil" escapes its folder; check the folder and its permissions`,
      },
    );
    assert.equal(await Deno.readTextFile(`${dir}/best/state.json`), "good");
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names, ["best"], "the temporary folder is removed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
