import assert from "#assert";
import {
  float32Tensor,
  PyOrderedDict,
  pyTuple,
  type PyValue,
  readTorchFile,
  TorchTensor,
  writeTorchFile,
} from "../../src/torch/mod.ts";
import { runPipeline, skipUnlessTorch } from "../_torch.ts";
import { describe, normalize } from "./_describe.ts";

const ignore = await skipUnlessTorch("loading our .pt files with torch.load(weights_only=True)");

/** Every value type the writer supports, with edge values. */
function zoo(): PyValue {
  const od = new PyOrderedDict([["b", 1n], ["a", 2n]]);
  od.attributes.set("_metadata", new PyOrderedDict([["", new Map([["version", 1n]])]]));
  const shared = float32Tensor([2], new Float32Array([0.5, -0.25]));
  return new Map<PyValue, PyValue>([
    ["f32", float32Tensor([2, 3], Float32Array.from([1, 2, 3, 4, 5, 6], (x) => x / 7))],
    ["f64", new TorchTensor("float64", [2], new Float64Array([Math.PI, -1e300]))],
    ["f16", new TorchTensor("float16", [2], new Uint16Array([0x3c00, 0xbc00]))],
    ["bf16", new TorchTensor("bfloat16", [1], new Uint16Array([0x3f80]))],
    ["i64", new TorchTensor("int64", [3], new BigInt64Array([0n, -1n, -(2n ** 63n)]))],
    ["i32", new TorchTensor("int32", [1], new Int32Array([-(2 ** 31)]))],
    ["i16", new TorchTensor("int16", [1], new Int16Array([300]))],
    ["i8", new TorchTensor("int8", [2], new Int8Array([-128, 127]))],
    ["u8", new TorchTensor("uint8", [5056], new Uint8Array(5056).map((_, i) => i % 251))],
    ["bool", new TorchTensor("bool", [2], new Uint8Array([1, 0]))],
    ["empty", float32Tensor([0, 3], new Float32Array(0))],
    ["scalar", float32Tensor([], new Float32Array([3.25]))],
    ["param", new TorchTensor("float32", [1], new Float32Array([1]), true)],
    ["shared_a", shared],
    ["shared_b", shared],
    ["ints", [
      0n,
      255n,
      256n,
      65535n,
      65536n,
      -1n,
      2n ** 31n - 1n,
      -(2n ** 31n),
      2n ** 31n,
      2n ** 63n,
      -(2n ** 70n),
    ]],
    ["floats", [0, -0, 1, 1.5, 1e-300, Infinity, -Infinity]],
    ["strs", ["", "héllo", "日本語", "a\nb"]],
    ["bytes", new Uint8Array([0, 255, 128, 97])],
    ["empty_bytes", new Uint8Array(0)],
    ["tuples", [
      pyTuple(),
      pyTuple(1n),
      pyTuple(1n, 2n),
      pyTuple(1n, "a", 2.5),
      pyTuple(1n, 2n, 3n, 4n),
    ]],
    ["set", new Set<PyValue>([3n, 1n, 2n])],
    ["none", null],
    ["bools", [true, false]],
    ["od", od],
    ["int_keys", new Map<PyValue, PyValue>([[0n, "x"], [7n, "y"]])],
    ["long_list", Array.from({ length: 2500 }, (_, i) => BigInt(i))],
    ["nested", new Map<PyValue, PyValue>([["list", [[1n, [2]], new Map([["k", pyTuple(null)]])]]])],
  ]);
}

Deno.test({
  name: "writeTorchFile() output loads with torch.load(weights_only=True) as the same values",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const value = zoo();
      await Deno.writeFile(`${dir}/zoo.pt`, writeTorchFile(value, { archiveName: "zoo" }));
      const got = await runPipeline("dump", [`${dir}/zoo.pt`]);
      assert.deepEqual(normalize(got), normalize(describe(value)));
      // Our own reader gives back the very same description.
      const back = readTorchFile(await Deno.readFile(`${dir}/zoo.pt`));
      assert.deepEqual(normalize(describe(back)), normalize(describe(value)));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "writeTorchFile() lays records out as torch.save does, so torch's mmap loader with computed offsets reads it",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      await runPipeline("simple", [`${dir}/simple.pt`]);
      const value = readTorchFile(await Deno.readFile(`${dir}/simple.pt`));
      await Deno.writeFile(`${dir}/ours.pt`, writeTorchFile(value, { archiveName: "simple" }));
      const layouts = await runPipeline<Record<string, { record: string }[]>>("layout", [
        `${dir}/simple.pt`,
        `${dir}/ours.pt`,
      ]);
      const theirs = layouts[`${dir}/simple.pt`];
      const ours = layouts[`${dir}/ours.pt`];
      assert.deepEqual(theirs.map((r) => r.record), [
        "data.pkl",
        ".format_version",
        ".storage_alignment",
        "byteorder",
        "data/0",
        "data/1",
        "data/2",
        "version",
        ".data/serialization_id",
      ]);
      assert.deepEqual(ours, theirs);
      // torch's loader that computes storage offsets from miniz's layout, with its debug
      // check that each computed offset is the real one.
      const loaded = await runPipeline("dump", [`${dir}/ours.pt`, "--mmap"], {}, {
        TORCH_SERIALIZATION_DEBUG: "1",
      });
      assert.deepEqual(loaded, describe(value));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("writeTorchFile() is deterministic and refuses what Python cannot hold", async (t) => {
  await t.step("same value, same bytes", () => {
    assert.deepEqual(writeTorchFile(zoo()), writeTorchFile(zoo()));
  });
  await t.step("archive names", () => {
    assert.throws(() => writeTorchFile(null, { archiveName: "../x" }), {
      name: "TypeError",
      message:
        'Cannot write torch checkpoint: archiveName must be letters, digits, "_", "-" or ".", ' +
        'received "../x"',
    });
  });
  await t.step("values without a Python counterpart", () => {
    const bad = new Map<PyValue, PyValue>([["x", [1n, { a: 1 } as unknown as PyValue]]]);
    assert.throws(() => writeTorchFile(bad), {
      name: "TypeError",
      message: 'Cannot write a torch pickle: the value["x"][1] is a Object, which has no Python ' +
        "counterpart (see PyValue)",
    });
    assert.throws(() => writeTorchFile([undefined as unknown as PyValue]), {
      name: "TypeError",
      message: "Cannot write a torch pickle: the value[0] is undefined, which has no Python " +
        "counterpart (see PyValue)",
    });
  });
  await t.step("cycles", () => {
    const a: PyValue[] = [];
    a.push(a);
    assert.throws(() => writeTorchFile(a), {
      name: "TypeError",
      message: "Cannot write a torch pickle: the value[0] contains itself (a cycle)",
    });
  });
});
