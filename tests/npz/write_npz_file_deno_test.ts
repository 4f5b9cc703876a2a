import assert from "#assert";
import { type NpyArray, readNpz, writeNpz } from "../../src/npz/mod.ts";
import { writeNpzFile } from "../../src/npz/write_npz_file_deno.ts";
import { pythonJson, skipUnlessPython } from "../_python.ts";

const ignore = await skipUnlessPython("numpy");

const NP_HASHES = `
import hashlib, json, sys, zipfile, numpy as np
path = sys.argv[1]
zf = zipfile.ZipFile(path)
assert zf.testzip() is None  # every CRC verifies
out = {"_methods": sorted({i.compress_type for i in zf.infolist()})}
with np.load(path, allow_pickle=False) as z:
    for k in z.files:
        a = z[k]
        out[k] = [a.dtype.str, list(a.shape), hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()]
print(json.dumps(out))
`;

async function sha256(a: NpyArray): Promise<string> {
  const bytes = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  const d = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test({
  name: "writeNpzFile() writes stored and zlib-deflated archives that numpy reads exactly",
  ignore,
  async fn(t) {
    const n = 300_000; // several compressor chunks with chunkBytes 64 KiB
    const seq = Float32Array.from({ length: n }, (_, i) => (i % 7 === 0 ? NaN : Math.sin(i)));
    const arrays: Record<string, NpyArray> = {
      sequences: { dtype: "float32", shape: [100, 30, 100], data: seq },
      labels: { dtype: "int64", shape: [4], data: new BigInt64Array([0n, 4n, -1n, 2n ** 62n]) },
      "a/b.c": { dtype: "uint8", shape: [0], data: new Uint8Array(0) },
      scalar: { dtype: "float64", shape: [], data: new Float64Array([-0.5]) },
    };
    const dir = await Deno.makeTempDir();
    try {
      for (
        const [label, compress, forceZip64] of [
          ["stored", false, false],
          ["deflated", true, false],
          ["deflated, zip64", true, true],
        ] as const
      ) {
        await t.step(label, async () => {
          const path = `${dir}/out.npz`;
          await writeNpzFile(path, arrays, { compress, forceZip64, chunkBytes: 65536 });
          const got = await pythonJson<Record<string, [string, number[], string]>>(NP_HASHES, {
            args: [path],
          });
          assert.deepEqual(got._methods, [compress ? 8 : 0]);
          for (const [k, a] of Object.entries(arrays)) {
            assert.deepEqual(got[k][1], a.shape, k);
            assert.equal(got[k][2], await sha256(a), `${k} values`);
          }
          const back = readNpz(await Deno.readFile(path));
          assert.deepEqual(Object.keys(back), Object.keys(arrays));
          if (!compress && !forceZip64) {
            // the stored layout is byte-identical to the in-memory writer's
            assert.deepEqual(await Deno.readFile(path), writeNpz(arrays));
          }
        });
      }
      const left = [];
      for await (const e of Deno.readDir(dir)) left.push(e.name);
      assert.deepEqual(left, ["out.npz"], "no temporary files are left behind");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("writeNpzFile() validates arrays before creating any file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      () =>
        writeNpzFile(`${dir}/x.npz`, {
          x: { dtype: "float32", shape: [3], data: new Float32Array(2) },
        }),
      (e: unknown) =>
        e instanceof RangeError &&
        e.message === 'Cannot write array "x": shape (3) needs 3 elements, data has 2',
    );
    const left = [];
    for await (const e of Deno.readDir(dir)) left.push(e.name);
    assert.deepEqual(left, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
