import assert from "#assert";
import { NpzFormatError, readNpz, writeNpz } from "../../src/npz/mod.ts";
import { skipUnlessPython } from "../_python.ts";
import { assertArrayMatches, assertNpzError, makeFixtures } from "./_fixtures.ts";

const ignore = await skipUnlessPython("numpy");
const fx = ignore ? null : await makeFixtures();
const read = (name: string) => Deno.readFileSync(`${fx!.dir}/${name}`);

const CLASS: Record<string, string> = {
  bool: "Uint8Array",
  int8: "Int8Array",
  int16: "Int16Array",
  int32: "Int32Array",
  int64: "BigInt64Array",
  uint8: "Uint8Array",
  uint16: "Uint16Array",
  uint32: "Uint32Array",
  uint64: "BigUint64Array",
  float16: "Float32Array",
  float32: "Float32Array",
  float64: "Float64Array",
};

Deno.test({
  name: "readNpz() reads every dtype in both byte orders, stored and compressed, exactly",
  ignore,
  async fn(t) {
    for (const file of ["dtypes_stored.npz", "dtypes_compressed.npz"]) {
      const arrays = readNpz(read(file));
      const expected = fx!.manifest[file];
      assert.deepEqual(Object.keys(arrays).sort(), Object.keys(expected).sort());
      for (const [key, exp] of Object.entries(expected)) {
        await t.step(`${file} ${key}`, () => {
          assertArrayMatches(arrays[key], exp, `${file}:${key}`);
          assert.equal(arrays[key].data.constructor.name, CLASS[exp.dtype]);
        });
      }
    }
  },
});

Deno.test({
  name: "readNpz() converts Fortran order and reads 0-d, empty and '/'-and-dot names",
  ignore,
  async fn(t) {
    for (const file of ["layouts_stored.npz", "layouts_compressed.npz"]) {
      const arrays = readNpz(read(file));
      for (const [key, exp] of Object.entries(fx!.manifest[file])) {
        await t.step(`${file} ${key}`, () => assertArrayMatches(arrays[key], exp, key));
      }
    }
  },
});

Deno.test({
  name: "readNpz() reads zip64 archives (zip64 extras and end records, as over 4 GB)",
  ignore,
  async fn(t) {
    for (const file of ["zip64_stored.npz", "zip64_compressed.npz"]) {
      await t.step(file, () => {
        const arrays = readNpz(read(file));
        for (const [key, exp] of Object.entries(fx!.manifest[file])) {
          assertArrayMatches(arrays[key], exp, key);
        }
      });
    }
  },
});

Deno.test({
  name: "readNpz() reads .npy members of format versions 1.0, 2.0 and 3.0",
  ignore,
  fn() {
    const arrays = readNpz(read("versions.npz"));
    for (const [key, exp] of Object.entries(fx!.manifest["versions.npz"])) {
      assertArrayMatches(arrays[key], exp, key);
    }
  },
});

Deno.test({
  name: "readNpz() refuses unsupported dtypes and never unpickles object arrays",
  ignore,
  async fn(t) {
    const cases: [string, string, RegExp][] = [
      ["object.npz", "objs.npy", /object array .*pickle.*never loaded/],
      ["unicode.npz", "names.npy", /string arrays \(descr "<U2"\) are not supported/],
      ["bytes.npz", "raw.npy", /string arrays \(descr "\|S2"\) are not supported/],
      ["structured.npz", "rec.npy", /structured \(record\) dtypes are not supported/],
      ["complex.npz", "z.npy", /unsupported dtype "<c8"; supported: bool, int8/],
    ];
    for (const [file, member, re] of cases) {
      await t.step(file, () => {
        assertNpzError(() => readNpz(read(file)), member, re);
      });
    }
  },
});

Deno.test({
  name: "readNpz() rejects a header shape that needs more bytes than present",
  ignore,
  fn() {
    assertNpzError(
      () => readNpz(read("short_data.npz")),
      "arr.npy",
      /header shape \(300\) of <i4 needs 1200 data bytes but only 12 are present/,
    );
  },
});

Deno.test({
  name: "readNpz() rejects bad magic in the archive and in a member",
  ignore,
  async fn(t) {
    await t.step("not a zip", () => {
      const e = assertNpzError(
        () => readNpz(new TextEncoder().encode("this is certainly not a zip file at all")),
        "",
        /no zip end-of-central-directory record .*bad magic: this is not a zip\/npz file/,
      );
      assert.equal(e.offset, 39);
    });
    await t.step("member that is not .npy data", () => {
      assertNpzError(
        () => readNpz(read("bad_member_magic.npz")),
        "notnpy.npy",
        /bad magic; expected "\\x93NUMPY" .* received 68 65 6c 6c 6f 2c/,
      );
    });
    await t.step("empty input", () => {
      assertNpzError(() => readNpz(new Uint8Array(0)), "", /no zip end-of-central-directory/);
    });
  },
});

Deno.test({
  name: "readNpz() rejects a truncated archive",
  ignore,
  async fn(t) {
    const full = read("dtypes_compressed.npz");
    for (const keep of [full.length - 1, full.length - 30, Math.floor(full.length / 2), 10]) {
      await t.step(`${keep} of ${full.length} bytes`, () => {
        assertNpzError(() => readNpz(full.slice(0, keep)), "", /the file looks truncated/);
      });
    }
  },
});

Deno.test({
  name: "readNpz() rejects a CRC mismatch, naming the member",
  ignore,
  fn() {
    const bytes = read("layouts_stored.npz").slice();
    const off = fx!.manifest._a_b_c_header_offset;
    const dv = new DataView(bytes.buffer);
    const dataStart = off + 30 + dv.getUint16(off + 26, true) + dv.getUint16(off + 28, true);
    const npyHeader = 10 + dv.getUint16(dataStart + 8, true);
    bytes[dataStart + npyHeader + 9] ^= 0x01; // last byte of a/b.c's 5 x uint16
    assertNpzError(() => readNpz(bytes), "a/b.c.npy", /CRC-32 mismatch; expected [0-9a-f]{8}/);
    // without verification the flipped value is returned as is
    const arrays = readNpz(bytes, { verifyCrc: false });
    assert.deepEqual(Array.from(arrays["a/b.c"].data as Uint16Array), [0, 1, 2, 3, 4 + 256]);
  },
});

Deno.test({
  name: "readNpz() refuses a member whose declared size exceeds maxMemberBytes",
  ignore,
  fn() {
    const bytes = read("dtypes_compressed.npz");
    assertNpzError(
      () => readNpz(bytes, { maxMemberBytes: 100 }),
      "b1_le.npy",
      /declares 140 uncompressed bytes, over the limit maxMemberBytes = 100/,
    );
    assert.equal(Object.keys(readNpz(bytes, { maxMemberBytes: 224 })).length, 21);
  },
});

Deno.test({
  name: "readNpz() refuses a deflated member whose declared size is smaller than deflate allows",
  ignore,
  fn() {
    // random float64 data barely compresses: about 16 kB of deflate stream
    const data = Float64Array.from({ length: 2000 }, (_, i) => Math.sin(i * 12.9898) * 43758.5);
    const bytes = writeNpz({ x: { dtype: "float64", shape: [2000], data } }, { compress: true });
    const cen = new TextDecoder("latin1").decode(bytes).indexOf("PK\x01\x02");
    const dv = new DataView(bytes.buffer);
    assert.equal(dv.getUint32(cen + 24, true), 16128, "x.npy has 128 + 16000 bytes");
    dv.setUint32(cen + 24, 4, true); // the directory now claims 4 uncompressed bytes
    assertNpzError(
      () => readNpz(bytes),
      "x.npy",
      /compressed bytes cannot inflate to only the declared 4 bytes .*zip bomb/,
    );
  },
});

Deno.test({
  name: "readNpz() throws only NpzFormatError on randomly corrupted archives",
  ignore,
  fn() {
    const base = read("layouts_compressed.npz");
    let seed = 12345;
    const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    let failures = 0;
    for (let k = 0; k < 300; k++) {
      const b = base.slice();
      const flips = 1 + Math.floor(rand() * 4);
      for (let j = 0; j < flips; j++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      try {
        readNpz(b);
      } catch (e) {
        failures++;
        assert.ok(e instanceof NpzFormatError, `case ${k}: ${e}`);
      }
    }
    assert.ok(failures > 100, `only ${failures} of 300 corrupted archives were refused`);
  },
});
