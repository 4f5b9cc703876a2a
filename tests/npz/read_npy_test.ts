import assert from "#assert";
import { readNpy } from "../../src/npz/mod.ts";
import { skipUnlessPython } from "../_python.ts";
import { assertArrayMatches, assertNpzError, makeFixtures } from "./_fixtures.ts";

const ignore = await skipUnlessPython("numpy");
const fx = ignore ? null : await makeFixtures();
const read = (name: string) => Deno.readFileSync(`${fx!.dir}/${name}`);

Deno.test({
  name: "readNpy() reads numpy's format versions 1.0, 2.0 and 3.0",
  ignore,
  async fn(t) {
    for (const v of ["v1", "v2", "v3"]) {
      await t.step(v, () => {
        const bytes = read(`${v}.npy`);
        assert.equal(bytes[6], Number(v[1]), "fixture has the format version it claims");
        assertArrayMatches(readNpy(bytes), fx!.manifest[`${v}.npy`].x, v);
      });
    }
  },
});

Deno.test({
  name: "readNpy() never aliases its input",
  ignore,
  fn() {
    const bytes = read("v1.npy");
    const a = readNpy(bytes);
    assert.notEqual(a.data.buffer, bytes.buffer);
  },
});

Deno.test({
  name: "readNpy() rejects bad magic, a truncated header and a short data block",
  ignore,
  async fn(t) {
    const v1 = read("v1.npy");
    await t.step("bad magic", () => {
      const b = v1.slice();
      b[1] = 0x58;
      const e = assertNpzError(() => readNpy(b), "", /bad magic; expected "\\x93NUMPY"/);
      assert.equal(e.offset, 1);
    });
    await t.step("unsupported version", () => {
      const b = v1.slice();
      b[6] = 9;
      assertNpzError(() => readNpy(b), "", /unsupported \.npy format version 9\.0; supported/);
    });
    await t.step("truncated header", () => {
      assertNpzError(() => readNpy(v1.slice(0, 40)), "", /truncated header; it declares 118/);
    });
    await t.step("header shape needs more bytes than present", () => {
      assertNpzError(
        () => readNpy(read("short_data.npy"), { name: "short.npy" }),
        "short.npy",
        /header shape \(300\) of <i4 needs 1200 data bytes but only 12 are present/,
      );
    });
    await t.step("truncated data", () => {
      assertNpzError(
        () => readNpy(v1.slice(0, v1.length - 1)),
        "",
        /needs 24 data bytes but only 23/,
      );
    });
  },
});
