import assert from "#assert";
import { pythonJson, skipUnlessPython } from "../_python.ts";

const ignore = await skipUnlessPython("numpy");
const CLI = new URL("../../cli/npz.ts", import.meta.url).pathname;

async function runCli(...args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code, out: new TextDecoder().decode(stdout), err: new TextDecoder().decode(stderr) };
}

Deno.test({
  name: "deno task npz prints dtype, shape, NaN count and the labels histogram numpy computes",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const file = `${dir}/data.npz`;
      const ref = await pythonJson<{ nan: number; counts: number[] }>(
        `
import json, sys, numpy as np
rng = np.random.default_rng(1)
seq = rng.standard_normal((40, 6, 3)).astype(np.float32)
seq[rng.random(seq.shape) < 0.1] = np.nan
labels = rng.choice(5, 40, p=[0.6, 0.1, 0.1, 0.1, 0.1]).astype(np.int64)
np.savez_compressed(sys.argv[1], sequences=seq, labels=labels)
print(json.dumps({"nan": int(np.isnan(seq).sum()), "counts": np.bincount(labels, minlength=5).tolist()}))
`,
        { args: [file] },
      );
      const json = await runCli("--json", file);
      assert.equal(json.code, 0, json.err);
      const got = JSON.parse(json.out);
      const seq = got.arrays.find((a: { name: string }) => a.name === "sequences");
      assert.deepEqual(seq, {
        name: "sequences",
        dtype: "float32",
        shape: [40, 6, 3],
        storage: "deflated",
        nanCount: ref.nan,
      });
      const labels = got.arrays.find((a: { name: string }) => a.name === "labels");
      const want = Object.fromEntries(
        ref.counts.map((c, k) => [String(k), c]).filter(([, c]) => (c as number) > 0),
      );
      assert.deepEqual(labels.classCounts, want);

      const text = await runCli(file);
      assert.equal(text.code, 0, text.err);
      assert.match(text.out, /sequences\s+float32\s+\(40, 6, 3\)\s+deflated\s+NaN (\d+)/);
      assert.equal(Number(/NaN (\d+)/.exec(text.out)![1]), ref.nan);
      assert.match(text.out, new RegExp(`class\\s+0:\\s+${ref.counts[0]}\\s`));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("deno task npz reports a bad flag, a missing file and a non-npz file", async (t) => {
  await t.step("unknown flag", async () => {
    const r = await runCli("--nope", "x.npz");
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /Cannot parse the npz flags: .*'--nope'.*allowed flags: --labels-key, --json/,
    );
  });
  await t.step("missing file", async () => {
    const r = await runCli("/definitely/missing.npz");
    assert.equal(r.code, 1);
    assert.match(r.err, /^error: Cannot inspect \/definitely\/missing\.npz: no such file/);
  });
  await t.step("not a zip", async () => {
    const r = await runCli(CLI);
    assert.equal(r.code, 1);
    assert.match(r.err, /Cannot read npz archive: no zip end-of-central-directory record/);
  });
  await t.step("--help documents every flag", async () => {
    const r = await runCli("--help");
    assert.equal(r.code, 0);
    for (const flag of ["--labels-key", "--json", "--max-member-mb", "--help"]) {
      assert.ok(r.out.includes(flag), flag);
    }
  });
});
