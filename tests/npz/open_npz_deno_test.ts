import assert from "#assert";
import { openNpz } from "../../src/npz/open_npz_deno.ts";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import { assertArrayMatches, assertNpzErrorAsync, makeFixtures } from "./_fixtures.ts";

const ignore = await skipUnlessPython("numpy");
const fx = ignore ? null : await makeFixtures();
const path = (name: string) => `${fx!.dir}/${name}`;

Deno.test({
  name: "openNpz() lists members and reads them like numpy, stored and streamed-deflated",
  ignore,
  async fn(t) {
    const files = [
      "dtypes_stored.npz",
      "dtypes_compressed.npz",
      "layouts_compressed.npz",
      "zip64_stored.npz",
      "zip64_compressed.npz",
    ];
    for (const [file, inflate] of files.flatMap((f) => [[f, "native"], [f, "fflate"]] as const)) {
      // a tiny chunk size makes the streamed inflate cross many chunk boundaries
      using npz = await openNpz(path(file), { chunkBytes: 7, inflate });
      const expected = fx!.manifest[file];
      assert.deepEqual(npz.members.map((m) => m.name).sort(), Object.keys(expected).sort());
      for (const m of npz.members) {
        await t.step(`${file} ${inflate} ${m.name}`, async () => {
          assert.equal(m.dtype, expected[m.name].dtype);
          assert.deepEqual(m.shape, expected[m.name].shape);
          assert.equal(m.compressed, file.includes("compressed"));
          assertArrayMatches(await npz.read(m.name), expected[m.name], m.name);
        });
      }
    }
  },
});

Deno.test({
  name: "openNpz() readRows() of a stored member equals numpy's slice",
  ignore,
  async fn(t) {
    const dir = await Deno.makeTempDir();
    try {
      const file = `${dir}/rows.npz`;
      const slices = await pythonJson<Record<string, number[]>>(
        `
import json, sys, numpy as np
rng = np.random.default_rng(3)
x = rng.standard_normal((50, 7, 3)).astype(np.float32)
x[4, 2, 1] = np.nan
y = rng.integers(0, 5, 50).astype(">i8")
np.savez(sys.argv[1], x=x, y=y)
print(json.dumps({"x": [float(v) if v == v else "nan" for v in x[4:23].reshape(-1)],
                  "y": [int(v) for v in y[47:50]]}))
`,
        { args: [file] },
      );
      using npz = await openNpz(file);
      await t.step("float32 rows 4..23 (with a NaN)", async () => {
        const r = await npz.readRows("x", 4, 23);
        assert.deepEqual(r.shape, [19, 7, 3]);
        const want = slices.x.map((v) => (v === ("nan" as unknown) ? NaN : v));
        assert.deepEqual(Array.from(r.data as Float32Array), want);
      });
      await t.step("big-endian int64 rows 47..50", async () => {
        const r = await npz.readRows("y", 47, 50);
        assert.equal(r.dtype, "int64");
        assert.deepEqual(Array.from(r.data as BigInt64Array, Number), slices.y);
      });
      await t.step("empty range", async () => {
        assert.deepEqual((await npz.readRows("x", 50, 50)).shape, [0, 7, 3]);
      });
      await t.step("range outside the rows", async () => {
        await assert.rejects(
          () => npz.readRows("x", 10, 51),
          (e: unknown) =>
            e instanceof RangeError &&
            /^Cannot read rows of "x" from .*rows\.npz: range \[10, 51\) is not within \[0, 50\]/
              .test(e.message),
        );
      });
      await t.step("unknown array", async () => {
        await assert.rejects(
          () => npz.read("nope"),
          (e: unknown) =>
            e instanceof RangeError && /no such array; arrays: x, y$/.test((e as Error).message),
        );
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "openNpz() readRows() explains why deflated and Fortran-order members cannot be sliced",
  ignore,
  async fn() {
    using c = await openNpz(path("layouts_compressed.npz"));
    assert.equal(c.info("fortran3d").rowAccess, false);
    await assert.rejects(
      () => c.readRows("fortran3d", 0, 1),
      (e: unknown) =>
        e instanceof TypeError &&
        /it is deflated \(np\.savez_compressed\), so rows need a full decompress; use read\(name\)/
          .test(e.message),
    );
    using s = await openNpz(path("layouts_stored.npz"));
    await assert.rejects(
      () => s.readRows("fortran3d", 0, 1),
      (e: unknown) =>
        e instanceof TypeError && /it is in Fortran order; use read\(name\)/.test(e.message),
    );
  },
});

Deno.test({
  name: "openNpz() rejects truncated files, CRC mismatches and members over the limit",
  ignore,
  async fn(t) {
    const dir = await Deno.makeTempDir();
    try {
      const full = await Deno.readFile(path("dtypes_stored.npz"));
      await t.step("truncated", async () => {
        await Deno.writeFile(`${dir}/cut.npz`, full.slice(0, full.length - 5));
        await assertNpzErrorAsync(() => openNpz(`${dir}/cut.npz`), "", /looks truncated/);
      });
      await t.step("CRC mismatch on read", async () => {
        const b = full.slice();
        const dv = new DataView(b.buffer);
        // first member: local header at 0, its .npy data ends where the next header starts
        const start = 30 + dv.getUint16(26, true) + dv.getUint16(28, true);
        b[start + 10 + dv.getUint16(start + 8, true)] ^= 1;
        await Deno.writeFile(`${dir}/crc.npz`, b);
        using npz = await openNpz(`${dir}/crc.npz`);
        await assertNpzErrorAsync(() => npz.read("b1_le"), "b1_le.npy", /CRC-32 mismatch/);
      });
      for (const inflate of ["native", "fflate"] as const) {
        await t.step(`corrupt deflate data (${inflate})`, async () => {
          const b = (await Deno.readFile(path("layouts_compressed.npz"))).slice();
          const dv = new DataView(b.buffer);
          const start = 30 + dv.getUint16(26, true) + dv.getUint16(28, true);
          for (let k = 5; k < 40; k += 3) b[start + k] ^= 0x5a;
          await Deno.writeFile(`${dir}/bad_deflate.npz`, b);
          // the header may already fail to inflate at open time; otherwise read() fails
          await assertNpzErrorAsync(
            async () => {
              using npz = await openNpz(`${dir}/bad_deflate.npz`, { inflate });
              await npz.read("fortran3d");
            },
            "fortran3d.npy",
            /corrupt deflate stream|CRC-32 mismatch|inflated to|bad magic|header/,
          );
        });
      }
      await t.step("over maxMemberBytes", async () => {
        using npz = await openNpz(path("dtypes_compressed.npz"), { maxMemberBytes: 150 });
        await assertNpzErrorAsync(
          () => npz.read("f8_le"),
          "f8_le.npy",
          /declares 224 uncompressed bytes, over the limit maxMemberBytes = 150/,
        );
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
