import assert from "#assert";
import { crc32 as nodeCrc32 } from "node:zlib";
import { portableCrc32 } from "../../src/npz/mod.ts";
import { readNpzFile } from "../../src/npz/read_npz_file_deno.ts";
import { skipUnlessPython } from "../_python.ts";
import { assertArrayMatches, assertNpzErrorAsync, makeFixtures } from "./_fixtures.ts";

const ignore = await skipUnlessPython("numpy");
const fx = ignore ? null : await makeFixtures();

Deno.test({
  name: "readNpzFile() reads numpy's archives and checks CRCs with zlib",
  ignore,
  async fn() {
    for (const file of ["dtypes_compressed.npz", "layouts_stored.npz", "zip64_stored.npz"]) {
      const arrays = await readNpzFile(`${fx!.dir}/${file}`);
      for (const [key, exp] of Object.entries(fx!.manifest[file])) {
        assertArrayMatches(arrays[key], exp, `${file}:${key}`);
      }
    }
    const bytes = await Deno.readFile(`${fx!.dir}/layouts_stored.npz`);
    const off = fx!.manifest._a_b_c_header_offset;
    const dv = new DataView(bytes.buffer);
    const start = off + 30 + dv.getUint16(off + 26, true) + dv.getUint16(off + 28, true);
    bytes[start + 10 + dv.getUint16(start + 8, true)] ^= 0x80;
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeFile(`${dir}/bad.npz`, bytes);
      await assertNpzErrorAsync(
        () => readNpzFile(`${dir}/bad.npz`),
        "a/b.c.npy",
        /CRC-32 mismatch/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("portableCrc32() equals zlib's crc32 at every alignment and length", () => {
  const buf = new Uint8Array(5000);
  let s = 7;
  for (let i = 0; i < buf.length; i++) {
    buf[i] = (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24;
  }
  for (const start of [0, 1, 2, 3, 5, 8]) {
    for (const len of [0, 1, 7, 8, 9, 15, 16, 17, 100, 4096 + 3]) {
      const part = buf.subarray(start, start + len);
      assert.equal(portableCrc32(part, 0), nodeCrc32(part) >>> 0, `start ${start} len ${len}`);
    }
  }
  // running CRC over two pieces equals the CRC of the whole
  const whole = nodeCrc32(buf) >>> 0;
  assert.equal(portableCrc32(buf.subarray(1234), portableCrc32(buf.subarray(0, 1234), 0)), whole);
});
