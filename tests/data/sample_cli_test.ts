import assert from "#assert";
import { generateSample } from "../../src/data/mod.ts";
import { pythonJson, skipUnlessPython } from "../_python.ts";

const ignore = await skipUnlessPython("numpy");
const CLI = new URL("../../cli/sample.ts", import.meta.url).pathname;

async function runCli(cwd: string, ...args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code, out: new TextDecoder().decode(stdout), err: new TextDecoder().decode(stderr) };
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test({
  name: "deno task sample writes files that numpy reads with the generator's values",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const args = ["--train-rows", "40", "--val-rows", "30", "--steps", "16", "--seed", "9"];
      const r = await runCli(dir, ...args);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /wrote data\/train_sequences\.npz/);
      assert.match(r.out, /wrote artifacts\/feature_stats\.json/);
      const got = await pythonJson<Record<string, Record<string, [string, number[], string]>>>(
        `
import hashlib, json, sys, zipfile, numpy as np
out = {}
for split in ["train", "val"]:
    path = sys.argv[1] + f"/data/{split}_sequences.npz"
    assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in zipfile.ZipFile(path).infolist())
    with np.load(path, allow_pickle=False) as z:
        out[split] = {k: [z[k].dtype.str, list(z[k].shape),
                          hashlib.sha256(np.ascontiguousarray(z[k]).tobytes()).hexdigest()]
                      for k in z.files}
print(json.dumps(out))
`,
        { args: [dir] },
      );
      const ref = generateSample({ trainRows: 40, valRows: 30, steps: 16, seed: 9 });
      for (const split of ["train", "val"] as const) {
        for (const [k, a] of Object.entries(ref[split])) {
          const [descr, shape, hash] = got[split][k];
          assert.equal(descr, { float32: "<f4", int64: "<i8" }[a.dtype as string], k);
          assert.deepEqual(shape, a.shape, k);
          const bytes = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
          assert.equal(hash, await sha256(bytes), `${split}/${k} values`);
        }
      }
      const stats = JSON.parse(await Deno.readTextFile(`${dir}/artifacts/feature_stats.json`));
      assert.deepEqual(stats, ref.featureStats);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("deno task sample refuses to overwrite without --force and checks its flags", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    const args = ["--train-rows", "5", "--val-rows", "5", "--steps", "4"];
    assert.equal((await runCli(dir, ...args)).code, 0);
    await t.step("existing files", async () => {
      const r = await runCli(dir, ...args);
      assert.equal(r.code, 1);
      assert.match(
        r.err,
        /^error: Cannot write sample data: data\/train_sequences\.npz, data\/val_sequences\.npz, artifacts\/feature_stats\.json already exist\(s\); pass --force/,
      );
    });
    await t.step("--force overwrites", async () => {
      assert.equal((await runCli(dir, ...args, "--force", "--seed", "3")).code, 0);
    });
    await t.step("bad value", async () => {
      const r = await runCli(dir, "--val-rows", "0");
      assert.equal(r.code, 1);
      assert.match(r.err, /Cannot use --val-rows "0": expected an integer >= 1/);
    });
    await t.step("unknown flag", async () => {
      const r = await runCli(dir, "--rows", "3");
      assert.equal(r.code, 1);
      assert.match(r.err, /Unknown option '--rows'.*allowed flags: --train-rows, --val-rows/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
