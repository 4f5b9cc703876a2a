import assert from "#assert";
import { zipSync } from "fflate";
import { float32Tensor, readTorchFile, writeTorchFile } from "../../src/torch/mod.ts";
import { assertTorchFormatError } from "./_assert.ts";
import { runPipeline, skipUnlessTorch } from "../_torch.ts";
import { describe, normalize } from "./_describe.ts";

const ignore = await skipUnlessTorch("reading files torch.save wrote");

Deno.test({
  name: "readTorchFile() reads every value type torch.save writes, exactly (protocols 2 and 4)",
  ignore,
  async fn(t) {
    const dir = await Deno.makeTempDir();
    try {
      for (const protocol of [2, 4]) {
        await t.step(`pickle protocol ${protocol}`, async () => {
          const path = `${dir}/zoo${protocol}.pt`;
          const expected = await runPipeline("zoo", [path], protocol === 2 ? {} : { protocol });
          const got = describe(readTorchFile(await Deno.readFile(path)));
          assert.deepEqual(normalize(got), normalize(expected));
        });
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

function torchFile(): Uint8Array {
  return writeTorchFile(new Map([["w", float32Tensor([3], new Float32Array([1, 2, 3]))]]), {
    archiveName: "last",
  });
}

function rejects(bytes: Uint8Array, message: string, record = "") {
  assertTorchFormatError(() => readTorchFile(bytes), message, { record });
}

Deno.test("readTorchFile() names what is wrong with files that are not torch checkpoints", async (t) => {
  await t.step("not a zip", () => {
    rejects(
      new TextEncoder().encode("hello"),
      'Cannot read torch checkpoint: it is not a zip archive (starts 68 65 6c 6c); a torch.save file starts "PK"',
    );
  });
  await t.step("the legacy format", () => {
    rejects(
      new Uint8Array([0x80, 2, 0x8a, 0x0a]),
      "Cannot read torch checkpoint: it is in the legacy format of torch < 1.6 (or " +
        "_use_new_zipfile_serialization=False), which is not supported; load and re-save it " +
        "with a current torch.save",
    );
  });
  await t.step("a TorchScript archive", () => {
    const zip = zipSync({ "m/constants.pkl": new Uint8Array(1), "m/data.pkl": new Uint8Array(1) });
    rejects(
      zip,
      "Cannot read torch checkpoint: it is a TorchScript archive (torch.jit.save); save the " +
        "state dict with torch.save instead",
    );
  });
  await t.step("a zip without data.pkl", () => {
    rejects(
      zipSync({ "x/readme.txt": new Uint8Array(1) }),
      "Cannot read torch checkpoint: the archive has no x/data.pkl record (not a torch.save file?)",
    );
  });
  await t.step("truncated", () => {
    const bytes = torchFile();
    rejects(
      bytes.subarray(0, bytes.length - 30),
      "Cannot read torch checkpoint: no zip end-of-central-directory record (truncated file?)",
    );
  });
  await t.step("a corrupt storage record (CRC-32)", () => {
    const bytes = torchFile();
    const at = bytes.indexOf(0x40, 400); // 2.0f = 00 00 00 40: inside data/0's payload
    const bad = bytes.slice();
    bad[at] ^= 1;
    assertTorchFormatError(
      () => readTorchFile(bad),
      /^Cannot read torch checkpoint: record data\/0 is corrupt: CRC-32 [0-9a-f]{8}, the directory says [0-9a-f]{8}$/,
      { record: "data/0" },
    );
    assert.deepEqual(
      Array.from((readTorchFile(bytes) as Map<string, { data: Float32Array }>).get("w")!.data),
      [1, 2, 3],
    );
  });
  await t.step("a deflated record that lies about its size (zip bomb)", () => {
    const zip = zipSync({
      "a/data.pkl": [new Uint8Array(100), { level: 6 }],
      "a/version": new TextEncoder().encode("3\n"),
    });
    // Patch the central directory's uncompressed size of a/data.pkl to 1 GB.
    const dv = new DataView(zip.buffer);
    const cd = zip.findIndex((_, i) => dv.getUint32(i, true) === 0x02014b50 && i + 4 <= zip.length);
    dv.setUint32(cd + 24, 1e9, true);
    assertTorchFormatError(
      () => readTorchFile(zip),
      /^Cannot read torch checkpoint: record a\/data\.pkl declares 1000000000 bytes from \d+ deflated bytes, more than deflate can produce$/,
      { record: "a/data.pkl" },
    );
  });
  await t.step("an unknown file format version", () => {
    const zip = zipSync({
      "a/data.pkl": new Uint8Array([0x80, 2, 0x4e, 0x2e]),
      "a/version": new TextEncoder().encode("99\n"),
    });
    rejects(
      zip,
      'Cannot read torch checkpoint: file format version "99" is not supported (1 to 10 are)',
      "version",
    );
    const ok = zipSync({
      "a/data.pkl": new Uint8Array([0x80, 2, 0x4e, 0x2e]),
      "a/version": new TextEncoder().encode("3\n"),
    });
    assert.equal(readTorchFile(ok), null);
  });
});
