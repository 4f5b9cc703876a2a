import assert from "#assert";
import { unzipSync, zipSync } from "fflate";
import {
  float32Tensor,
  PyTuple,
  readTorchFile,
  TorchTensor,
  unpickle,
  writeTorchFile,
} from "../../src/torch/mod.ts";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import { runPipeline, skipUnlessTorch } from "../_torch.ts";
import { assertTorchFormatError } from "./_assert.ts";

const noPython = await skipUnlessPython("pickle");
const noTorch = await skipUnlessTorch("checking torch refuses the same pickles");

function b64(s: string): Uint8Array {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

/**
 * Pickles whose loading runs code, made by Python's own pickle module. Each, if ever run,
 * creates `<dir>/<name>`. `globals` is the global each one names first.
 */
const PAYLOADS = String.raw`
import base64, builtins, json, os, pickle, subprocess, sys
d = sys.argv[1]
class Reduce:
    def __init__(self, fn, args): self.fn, self.args = fn, args
    def __reduce__(self): return (self.fn, self.args)
def touch(name): return f"open({os.path.join(d, name)!r}, 'w').close()"
payloads = {
    "os_system": pickle.dumps(Reduce(os.system, (f"touch {os.path.join(d, 'os_system')}",)), protocol=2),
    "eval": pickle.dumps(Reduce(builtins.eval, (touch("eval"),)), protocol=2),
    "exec": pickle.dumps(Reduce(builtins.exec, (touch("exec"),)), protocol=2),
    "popen": pickle.dumps(Reduce(subprocess.Popen, (["touch", os.path.join(d, "popen")],)), protocol=2),
    "stack_global": pickle.dumps(Reduce(os.system, (f"touch {os.path.join(d, 'stack_global')}",)), protocol=4),
    # Inside a checkpoint-shaped dict, after a harmless key.
    "in_dict": pickle.dumps({"epoch": 1, "args": Reduce(builtins.eval, (touch("in_dict"),))}, protocol=2),
    # INST: protocol 0's "import and call" opcode, after protocol-2 framing.
    "inst": b"\x80\x02(X" + len(f"touch {d}/inst").to_bytes(4, "little") + f"touch {d}/inst".encode()
            + b"ios\nsystem\n.",
}
out = {}
for name, data in payloads.items():
    out[name] = base64.b64encode(data).decode()
json.dump(out, sys.stdout)
`;

/** Runs each payload with Python's unrestricted pickle.loads in `dir` (the control). */
const CONTROL = String.raw`
import base64, json, pickle, sys
for name, data in json.load(sys.stdin).items():
    try:
        pickle.loads(base64.b64decode(data))
    except Exception as e:
        pass
`;

const REFUSED: Record<string, [string, string]> = {
  os_system: ["posix.system", "global posix.system is not allowed"],
  eval: ["builtins.eval", "global builtins.eval is not allowed"],
  exec: ["builtins.exec", "global builtins.exec is not allowed"],
  // Protocol 2 writes subprocess under its Python 2 name; the error names what the file says.
  popen: ["commands.Popen", "global commands.Popen is not allowed"],
  stack_global: ["posix.system", "global posix.system is not allowed"],
  in_dict: ["builtins.eval", "global builtins.eval is not allowed"],
  inst: ["", "opcode INST (0x69) is not allowed"],
};

Deno.test({
  name: "unpickle() refuses pickles that run code, naming the global, and runs nothing",
  ignore: noPython,
  async fn(t) {
    const control = await Deno.makeTempDir();
    const dir = await Deno.makeTempDir();
    try {
      // The payloads are live: Python's own pickle.loads runs every one of them.
      const live = await pythonJson<Record<string, string>>(PAYLOADS, { args: [control] });
      await pythonJson(CONTROL + "print('{}')", { stdin: JSON.stringify(live) });
      const ran = [...Deno.readDirSync(control)].map((e) => e.name).sort();
      assert.deepEqual(ran, Object.keys(REFUSED).sort(), "the control did not run every payload");

      const payloads = await pythonJson<Record<string, string>>(PAYLOADS, { args: [dir] });
      for (const [name, data] of Object.entries(payloads)) {
        await t.step(name, () => {
          const [global, what] = REFUSED[name];
          const e = assertTorchFormatError(
            () => unpickle(b64(data)),
            new RegExp(`^Cannot read torch pickle data\\.pkl: ${what.replace(/[.()]/g, "\\$&")}`),
          );
          assert.equal(e.global, global || undefined);
          if (global) assert.match(e.message, /nothing in it was run/);
        });
      }
      assert.deepEqual([...Deno.readDirSync(dir)], [], "a payload ran");
    } finally {
      await Deno.remove(control, { recursive: true });
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "readTorchFile() refuses a torch.save file holding a __reduce__ payload, as torch.load(weights_only=True) does",
  ignore: noTorch,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      // A real checkpoint whose data.pkl is swapped for a payload: the zip is valid, only
      // the pickle is hostile.
      const payloads = await pythonJson<Record<string, string>>(PAYLOADS, { args: [dir] });
      const clean = writeTorchFile(new Map([["w", float32Tensor([1], new Float32Array([1]))]]), {
        archiveName: "evil",
      });
      const evil = swapPickle(clean, b64(payloads.in_dict));
      await Deno.writeFile(`${dir}/evil.pt`, evil);
      assertTorchFormatError(
        () => readTorchFile(evil),
        /global builtins\.eval is not allowed/,
        { record: "data.pkl", global: "builtins.eval" },
      );
      const torchSays = await runPipeline<unknown>("dump", [`${dir}/evil.pt`]).then(
        () => "loaded",
        (e: Error) => e.message,
      );
      assert.match(torchSays as string, /Unsupported global: GLOBAL builtins?\.?eval|eval/);
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["evil.pt"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** The same torch zip (records rezipped by fflate, stored) with another data.pkl. */
function swapPickle(file: Uint8Array, pkl: Uint8Array): Uint8Array {
  const records = unzipSync(file);
  for (const name of Object.keys(records)) if (name.endsWith("/data.pkl")) records[name] = pkl;
  return zipSync(records, { level: 0 });
}

/** A protocol-2 pickle from opcodes and raw pieces. */
function pkl(...parts: (number | string | Uint8Array)[]): Uint8Array {
  const bytes: number[] = [0x80, 2];
  for (const p of parts) {
    if (typeof p === "number") bytes.push(p);
    else if (typeof p === "string") bytes.push(...new TextEncoder().encode(p));
    else bytes.push(...p);
  }
  return new Uint8Array(bytes);
}
const u32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
const str = (s: string) => {
  const b = new TextEncoder().encode(s);
  return new Uint8Array([0x58, ...u32(b.length), ...b]);
};

Deno.test("unpickle() reads plain data and names what is wrong with malformed pickles", async (t) => {
  await t.step("a dict of data", () => {
    const v = unpickle(
      pkl(
        0x7d,
        0x28,
        str("a"),
        0x4b,
        7,
        str("b"),
        0x47,
        ...new Uint8Array([0x3f, 0xf8, 0, 0, 0, 0, 0, 0]),
        0x75,
        0x2e,
      ),
    );
    assert.deepEqual(v, new Map<unknown, unknown>([["a", 7n], ["b", 1.5]]));
  });
  await t.step("tuples and memo", () => {
    const v = unpickle(pkl(str("x"), 0x71, 0, 0x68, 0, 0x86, 0x2e)) as PyTuple;
    assert.ok(v instanceof PyTuple);
    assert.deepEqual(v.items, ["x", "x"]);
  });
  await t.step("truncated", () => {
    assertTorchFormatError(
      () => unpickle(pkl(0x58, ...u32(10), "abc")),
      "Cannot read torch pickle data.pkl: it ends early: 10 more bytes needed, 3 left (truncated file?) (at byte 2)",
    );
  });
  await t.step("no STOP", () => {
    assertTorchFormatError(
      () => unpickle(pkl(0x4e)),
      "Cannot read torch pickle data.pkl: it ends early: 1 more bytes needed, 0 left (truncated file?) (at byte 3)",
    );
  });
  await t.step("unknown opcode", () => {
    assertTorchFormatError(
      () => unpickle(pkl(0xff)),
      "Cannot read torch pickle data.pkl: unknown opcode 0xff (not a pickle, or a corrupt one) (at byte 2)",
    );
  });
  await t.step("an unset memo entry", () => {
    assertTorchFormatError(
      () => unpickle(pkl(0x68, 9, 0x2e)),
      "Cannot read torch pickle data.pkl: memo entry 9 was never stored (at byte 2)",
    );
  });
  await t.step("APPEND to a dict", () => {
    assertTorchFormatError(
      () => unpickle(pkl(0x7d, 0x4e, 0x61, 0x2e)),
      "Cannot read torch pickle data.pkl: APPEND needs a list, found dict (at byte 4)",
    );
  });
  await t.step("a global torch allows but this reader does not support", () => {
    assertTorchFormatError(
      () => unpickle(pkl(0x63, "torch._utils\n_rebuild_sparse_tensor\n", 0x2e)),
      "Cannot read torch pickle data.pkl: global torch._utils._rebuild_sparse_tensor (sparse " +
        "tensors) is not supported: only dense tensors of dtype float64, float32, float16, " +
        "bfloat16, int64, int32, int16, int8, uint8, bool (at byte 2)",
      { global: "torch._utils._rebuild_sparse_tensor" },
    );
  });
  await t.step("a bare allowed global as the result", () => {
    assertTorchFormatError(
      () => unpickle(pkl(0x63, "torch\nSize\n", 0x2e)),
      "Cannot read torch pickle data.pkl: the result holds torch.Size itself, which is not data (at byte 14)",
    );
  });
  await t.step("containers nested deeper than the call stack", () => {
    // depth EMPTY_LISTs, then depth - 1 APPENDs: each list ends up inside the one before.
    const depth = 200_000;
    const bytes = new Uint8Array([
      0x80,
      2,
      ...new Uint8Array(depth).fill(0x5d),
      ...new Uint8Array(depth - 1).fill(0x61),
      0x2e,
    ]);
    let v = unpickle(bytes) as unknown[];
    let n = 1;
    while (v.length === 1) [v, n] = [v[0] as unknown[], n + 1];
    assert.equal(n, depth);
  });
  await t.step("a global name that is an Object property", () => {
    assertTorchFormatError(
      () => unpickle(pkl(0x63, "__proto__\nconstructor\n", 0x2e)),
      /global __proto__\.constructor is not allowed/,
    );
  });
  await t.step("EXT1 (the copyreg extension registry)", () => {
    assertTorchFormatError(
      () => unpickle(pkl(0x82, 1, 0x2e)),
      /^Cannot read torch pickle data\.pkl: opcode EXT1 \(0x82\) is not allowed/,
    );
  });
});

Deno.test("unpickle() checks tensors against their storage and the element limit", async (t) => {
  /** _rebuild_tensor_v2(("storage", FloatStorage, "0", "cpu", numel), offset, size, stride, False, OrderedDict()) */
  const tensor = (numel: number, offset: number, size: number[], stride: number[]) =>
    pkl(
      0x63,
      "torch._utils\n_rebuild_tensor_v2\n",
      0x28,
      0x28,
      str("storage"),
      0x63,
      "torch\nFloatStorage\n",
      str("0"),
      str("cpu"),
      0x4a,
      ...u32(numel),
      0x74,
      0x51,
      0x4a,
      ...u32(offset),
      0x28,
      ...size.flatMap((d) => [0x4a, ...u32(d)]),
      0x74,
      0x28,
      ...stride.flatMap((d) => [0x4a, ...u32(d)]),
      0x74,
      0x89,
      0x63,
      "collections\nOrderedDict\n",
      0x29,
      0x52,
      0x74,
      0x52,
      0x2e,
    );
  const storage = new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer);
  await t.step("a transposed view is copied dense", () => {
    const t = unpickle(tensor(6, 0, [3, 2], [1, 3]), { storage: () => storage }) as TorchTensor;
    assert.ok(t instanceof TorchTensor);
    assert.deepEqual(t.shape, [3, 2]);
    assert.deepEqual(Array.from(t.data as Float32Array), [1, 4, 2, 5, 3, 6]);
  });
  await t.step("a view past the storage's end", () => {
    assertTorchFormatError(
      () => unpickle(tensor(6, 2, [2, 3], [3, 1]), { storage: () => storage }),
      /a tensor of shape \[2,3\], stride \[3,1\], offset 2 reaches element 7 of a 6-element storage \(data\/0\)/,
    );
  });
  await t.step("a storage record of the wrong size", () => {
    assertTorchFormatError(
      () => unpickle(tensor(7, 0, [6], [1]), { storage: () => storage }),
      /storage data\/0 holds 24 bytes, its pickle declares 7 elements of 4 bytes/,
    );
  });
  await t.step("a missing storage record", () => {
    assertTorchFormatError(
      () => unpickle(tensor(6, 0, [6], [1]), { storage: () => undefined }),
      /the storage record data\/0 is missing from the archive/,
    );
  });
  await t.step("a huge broadcast view of a small storage", () => {
    assertTorchFormatError(
      () => unpickle(tensor(6, 0, [100000, 100000], [0, 0]), { storage: () => storage }),
      /a tensor of shape \[100000,100000\] brings the tensors to 10000000000 elements, over the limit maxElements = 268435456/,
    );
  });
});
