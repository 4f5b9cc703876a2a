import assert from "#assert";
import {
  NPY_DTYPES,
  type NpyArray,
  type NpyDtype,
  readNpz,
  writeNpy,
  writeNpz,
} from "../../src/npz/mod.ts";
import { pythonJson, skipUnlessPython } from "../_python.ts";

const ignore = await skipUnlessPython("numpy");

/** Deterministic values for each dtype, including extremes, NaN, -0 and infinities. */
function sampleArray(dtype: NpyDtype, shape: number[]): NpyArray {
  const n = shape.reduce((a, b) => a * b, 1);
  const ints: Record<string, [bigint, bigint]> = {
    int8: [-128n, 127n],
    int16: [-32768n, 32767n],
    int32: [-(2n ** 31n), 2n ** 31n - 1n],
    int64: [-(2n ** 63n), 2n ** 63n - 1n],
    uint8: [0n, 255n],
    uint16: [0n, 65535n],
    uint32: [0n, 2n ** 32n - 1n],
    uint64: [0n, 2n ** 64n - 1n],
  };
  const floats = [0, -0, NaN, 1.5, -2.25, Infinity, -Infinity, 1 / 3, 65504, 1e-7, 3.14159, 7];
  const make = (): NpyArray["data"] => {
    switch (dtype) {
      case "bool":
        return Uint8Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0));
      case "float16":
      case "float32":
        return Float32Array.from({ length: n }, (_, i) => floats[i % floats.length] * (1 + i));
      case "float64":
        return Float64Array.from({ length: n }, (_, i) => floats[i % floats.length] / (1 + i));
      default: {
        const [lo, hi] = ints[dtype];
        const vals = (i: number) => [lo, hi, 0n, 1n, lo + 1n, hi - 1n, 42n][i % 7];
        const big = Array.from({ length: n }, (_, i) => vals(i));
        if (dtype === "int64") return BigInt64Array.from(big);
        if (dtype === "uint64") return BigUint64Array.from(big);
        const num = big.map(Number);
        const C = {
          int8: Int8Array,
          int16: Int16Array,
          int32: Int32Array,
          uint8: Uint8Array,
          uint16: Uint16Array,
          uint32: Uint32Array,
        }[dtype as "int8"];
        return C.from(num);
      }
    }
  };
  return { dtype, shape, data: make() } as NpyArray;
}

/** Canonical text of a value: numbers as JS prints them, NaN as "nan", -0 as "-0". */
function canon(v: number | bigint | string): string {
  if (typeof v === "bigint") return String(v);
  if (typeof v === "string") return /^-?\d+$|^nan$/.test(v) ? v : canon(Number(v));
  if (Number.isNaN(v)) return "nan";
  if (Object.is(v, -0)) return "-0";
  return String(v);
}

function asStrings(a: NpyArray): string[] {
  return Array.from(a.data as ArrayLike<number | bigint>, canon);
}

const NP_SUMMARY = `
import json, sys, zipfile, numpy as np
path = sys.argv[1]
assert zipfile.ZipFile(path).testzip() is None  # every CRC verifies
out = {}
with np.load(path, allow_pickle=False) as z:
    for k in z.files:
        a = z[k]
        flat = a.reshape(-1)
        def s(v):
            if a.dtype.kind == "f":
                f = float(v)
                if f != f: return "nan"
                if f in (float("inf"), float("-inf")): return "Infinity" if f > 0 else "-Infinity"
                return f
            return str(int(v))
        out[k] = {"dtype": a.dtype.name, "order": a.dtype.byteorder, "shape": list(a.shape),
                  "values": [s(v) for v in flat]}
    if "f16" in z.files:
        out["_f16_matches_astype"] = bool(np.array_equal(
            z["f16"].view(np.uint16), z["f16_src"].astype(np.float16).view(np.uint16)))
print(json.dumps(out))
`;

interface Summary {
  dtype: string;
  shape: number[];
  values: (string | number)[];
}

Deno.test({
  name: "writeNpz() output is read back by numpy exactly, stored and compressed",
  ignore,
  async fn(t) {
    const arrays: Record<string, NpyArray> = {};
    for (const dtype of NPY_DTYPES) arrays[dtype] = sampleArray(dtype, [3, 4]);
    // exactly representable in half precision (rounding is checked on "f16" below)
    arrays["float16"].data = Float32Array.from(
      [0, -0, NaN, 1.5, -2.25, Infinity, -Infinity, 0.25, 65504, 2 ** -24, 3, -7],
    );
    arrays["scalar"] = { dtype: "float64", shape: [], data: new Float64Array([-0.5]) };
    arrays["empty"] = { dtype: "int32", shape: [0, 5], data: new Int32Array(0) };
    arrays["dir/with.dots"] = sampleArray("float32", [2, 3, 2]);
    arrays["f16"] = sampleArray("float16", [13]);
    arrays["f16"].data = Float32Array.from(
      [0.1, 1 / 3, 65519, 65520, 1e-8, 6e-8, -2.5e-5, 1.0009765625, 1.00048828125, NaN, 3e5, -0, 2],
    );
    arrays["f16_src"] = { dtype: "float32", shape: [13], data: arrays["f16"].data };
    const dir = await Deno.makeTempDir();
    try {
      const variants: [string, { compress: boolean; forceZip64?: boolean }][] = [
        ["stored", { compress: false }],
        ["compressed", { compress: true }],
        ["stored, zip64", { compress: false, forceZip64: true }],
        ["compressed, zip64", { compress: true, forceZip64: true }],
      ];
      for (const [name, options] of variants) {
        await t.step(name, async () => {
          const path = `${dir}/rt.npz`;
          const bytes = writeNpz(arrays, options);
          const zip64Records = new TextDecoder("latin1").decode(bytes).split("PK\x06\x06").length -
            1;
          assert.equal(zip64Records, options.forceZip64 ? 1 : 0, "zip64 end record");
          await Deno.writeFile(path, bytes);
          const got = await pythonJson<Record<string, Summary> & { _f16_matches_astype: boolean }>(
            NP_SUMMARY,
            { args: [path] },
          );
          assert.equal(got._f16_matches_astype, true, "float16 rounding equals numpy astype");
          for (const [key, a] of Object.entries(arrays)) {
            if (key === "f16") continue;
            assert.equal(got[key].dtype, a.dtype, key);
            assert.deepEqual(got[key].shape, a.shape, key);
            assert.deepEqual(got[key].values.map(canon), asStrings(a), key);
          }
          // and our reader gets the same arrays back
          const back = readNpz(await Deno.readFile(path));
          for (const [key, a] of Object.entries(arrays)) {
            if (key === "f16") continue;
            assert.deepEqual(asStrings(back[key]), asStrings(a), key);
          }
        });
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("writeNpz() rejects invalid arrays and options", async (t) => {
  const cases: [string, () => unknown, ErrorConstructor, RegExp][] = [
    [
      "wrong typed array",
      () => writeNpz({ x: { dtype: "int64", shape: [2], data: new Int32Array(2) } as never }),
      TypeError,
      /^Cannot write array "x": dtype int64 needs data as BigInt64Array, received Int32Array$/,
    ],
    [
      "length differs from shape",
      () => writeNpz({ x: { dtype: "float32", shape: [2, 3], data: new Float32Array(5) } }),
      RangeError,
      /^Cannot write array "x": shape \(2, 3\) needs 6 elements, data has 5$/,
    ],
    [
      "unknown dtype",
      () => writeNpz({ x: { dtype: "complex64", shape: [1], data: new Float32Array(1) } as never }),
      TypeError,
      /unknown dtype "complex64"; allowed: bool, int8, .*float64/,
    ],
    [
      "negative dimension",
      () => writeNpy({ dtype: "uint8", shape: [-1], data: new Uint8Array(0) }),
      TypeError,
      /^Cannot write the array: shape must be an array of non-negative integers, received \[-1\]/,
    ],
    [
      "bad level",
      () => writeNpz({}, { compress: true, level: 11 }),
      RangeError,
      /^Cannot write npz archive: level must be an integer 0\.\.9, received 11$/,
    ],
  ];
  for (const [name, fn, cls, re] of cases) {
    await t.step(
      name,
      () => assert.throws(fn, (e: unknown) => e instanceof cls && re.test((e as Error).message)),
    );
  }
});
