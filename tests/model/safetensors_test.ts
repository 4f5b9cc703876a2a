import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import assert from "#assert";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import {
  createLstmClassifier,
  decodeSafetensors,
  encodeSafetensors,
  exportTorchStateDict,
  loadClassifierWeights,
  type ModelConfig,
} from "../../src/model/mod.ts";
import { relativeError } from "./_lstm_reference.ts";
import { assertSameWeights } from "./_weights.ts";

const ignore = await skipUnlessPython("numpy");
await tf.setBackend("wasm");
await tf.ready();
assert.equal(tf.getBackend(), "wasm");

function b64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function unb64(s: string): Uint8Array {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

/** A numpy safetensors reader written from the format description (no safetensors package). */
const PY_READER = String.raw`
import base64, json, struct, sys
import numpy as np
DT = {"F64": "<f8", "F32": "<f4", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
      "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?"}
def read_st(buf):
    (n,) = struct.unpack("<Q", buf[:8])
    raw = buf[8:8 + n]
    header = json.loads(raw)
    data = buf[8 + n:]
    meta = header.pop("__metadata__", {})
    out = {}
    spans = []
    for name, info in header.items():
        b, e = info["data_offsets"]
        arr = np.frombuffer(data[b:e], dtype=DT[info["dtype"]]).reshape(info["shape"])
        out[name] = (info["dtype"], arr)
        spans.append((b, e))
    spans.sort()
    contiguous = spans[0][0] == 0 and all(spans[i][1] == spans[i + 1][0] for i in range(len(spans) - 1)) \
        and spans[-1][1] == len(data)
    return dict(tensors=out, meta=meta, header_len=n, padding_is_spaces=raw.rstrip(b" ") == raw.strip(),
                trailing=len(raw) - len(raw.rstrip(b" ")), contiguous=contiguous, header_text=raw.decode())
`;

/** The classifier in PyTorch semantics, in numpy, reading only each row's valid span. */
const PY_TORCH_FORWARD = String.raw`
def sig(z): return 1 / (1 + np.exp(-z))
def torch_forward(sd, cfg, x, lengths):
    H, L, bi = cfg["hiddenSize"], cfg["numLayers"], cfg["bidirectional"]
    dirs = ["", "_reverse"] if bi else [""]
    feats = []
    for row, n in zip(x.astype(np.float64), lengths):
        seq = row[len(row) - n:]   # the valid steps only: padding is never read
        for l in range(L):
            outs = []
            for s in dirs:
                W = lambda k: sd[f"lstm.{k}_l{l}{s}"].astype(np.float64)
                h = np.zeros(H); c = np.zeros(H); hs = []
                order = range(n - 1, -1, -1) if s else range(n)
                for t in order:
                    z = W("weight_ih") @ seq[t] + W("bias_ih") + W("weight_hh") @ h + W("bias_hh")
                    i, f, g, o = sig(z[:H]), sig(z[H:2*H]), np.tanh(z[2*H:3*H]), sig(z[3*H:])
                    c = f * c + i * g; h = o * np.tanh(c); hs.append(h)
                if s: hs = hs[::-1]
                outs.append(np.array(hs))
            seq = np.concatenate(outs, axis=1)   # [n, dirs*H], natural time order
        if cfg["pooling"] == "last":
            # forward: state at the last valid step; backward: state after the whole span
            pooled = np.concatenate([seq[-1, :H]] + ([seq[0, H:]] if bi else []))
        else:
            pooled = seq.mean(axis=0)
        feats.append(pooled)
    a = np.array(feats)
    for j in (0, 3, 6):
        a = a @ sd[f"classifier.{j}.weight"].astype(np.float64).T + sd[f"classifier.{j}.bias"]
        if j != 6: a = np.maximum(a, 0)
    return a
def expected_names(cfg):
    names = []
    for l in range(cfg["numLayers"]):
        for s in (["", "_reverse"] if cfg["bidirectional"] else [""]):
            names += [f"lstm.{k}_l{l}{s}" for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    return names + [f"classifier.{j}.{k}" for j in (0, 3, 6) for k in ("weight", "bias")]
`;

Deno.test({
  name: "encodeSafetensors() writes a file a numpy reader parses: header, padding, offsets, values",
  ignore,
  async fn() {
    const tensors = {
      "a.weight": {
        dtype: "F32" as const,
        shape: [2, 3],
        data: new Float32Array([1.5, -2, 3, 4, 5, 6.25]),
      },
      ids: {
        dtype: "I64" as const,
        shape: [3],
        data: new BigInt64Array([1n, -7n, 9007199254740993n]),
      },
      scalar: { dtype: "F64" as const, shape: [], data: new Float64Array([Math.PI]) },
      flags: { dtype: "U8" as const, shape: [5], data: new Uint8Array([0, 1, 2, 3, 255]) },
    };
    const bytes = encodeSafetensors(tensors, { format: "pt", note: "héllo" });
    const got = await pythonJson<Record<string, unknown>>(
      PY_READER + String.raw`
r = read_st(sys.stdin.buffer.read())
print(json.dumps(dict(
    names=list(r["tensors"]), meta=r["meta"], header_len=r["header_len"], contiguous=r["contiguous"],
    padding_ok=r["padding_is_spaces"], trailing=r["trailing"],
    tensors={k: dict(dtype=d, shape=list(a.shape), values=[str(v) for v in a.ravel().tolist()])
             for k, (d, a) in r["tensors"].items()})))
`,
      { stdin: bytes },
    );
    assert.deepEqual(got.names, ["a.weight", "ids", "scalar", "flags"]);
    assert.deepEqual(got.meta, { format: "pt", note: "héllo" });
    assert.equal((got.header_len as number) % 8, 0, "header not padded to 8 bytes");
    assert.ok(
      got.padding_ok && (got.trailing as number) < 8,
      "padding must be < 8 trailing spaces",
    );
    assert.equal(got.contiguous, true);
    const t = got.tensors as Record<string, { dtype: string; shape: number[]; values: string[] }>;
    assert.deepEqual(t["a.weight"], {
      dtype: "F32",
      shape: [2, 3],
      values: ["1.5", "-2.0", "3.0", "4.0", "5.0", "6.25"],
    });
    assert.deepEqual(t.ids, { dtype: "I64", shape: [3], values: ["1", "-7", "9007199254740993"] });
    assert.deepEqual(t.scalar, { dtype: "F64", shape: [], values: [String(Math.PI)] });
    assert.deepEqual(t.flags.values, ["0", "1", "2", "3", "255"]);
  },
});

Deno.test({
  name: "decodeSafetensors() reads a file written by a numpy writer",
  ignore,
  async fn() {
    const out = await pythonJson<
      {
        file: string;
        order: string[];
        expect: Record<string, { dtype: string; shape: number[]; values: number[] }>;
      }
    >(
      String.raw`
import base64, json, struct
import numpy as np
rng = np.random.default_rng(0)
arrs = {"z.last": ("F32", rng.normal(size=(3, 4)).astype("<f4")),
        "a.first": ("I32", np.arange(-3, 3, dtype="<i4").reshape(2, 3)),
        "m.mid": ("F64", rng.normal(size=(5,)).astype("<f8")),
        "b": ("BOOL", np.array([True, False, True]))}
header, blobs, off = {"__metadata__": {"k": "v"}}, [], 0
# Like the reference writer: biggest alignment first, then by name.
for name, (dt, a) in sorted(arrs.items(), key=lambda kv: (-kv[1][1].dtype.itemsize, kv[0])):
    b = a.tobytes(); header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
    blobs.append(b); off += len(b)
h = json.dumps(header).encode(); h += b" " * (-len(h) % 8)
buf = struct.pack("<Q", len(h)) + h + b"".join(blobs)
order = sorted((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0])
print(json.dumps(dict(file=base64.b64encode(buf).decode(), order=order, expect={k: dict(dtype=d, shape=list(a.shape),
    values=a.astype(float).ravel().tolist()) for k, (d, a) in arrs.items()})))
`,
    );
    const file = decodeSafetensors(unb64(out.file));
    assert.deepEqual(file.metadata, { k: "v" });
    assert.deepEqual(Object.keys(file.tensors), out.order, "tensors not in file order");
    for (const [name, e] of Object.entries(out.expect)) {
      const t = file.tensors[name];
      assert.equal(t.dtype, e.dtype, name);
      assert.deepEqual(t.shape, e.shape, name);
      assert.deepEqual(Array.from(t.data as ArrayLike<number>, Number), e.values, name);
    }
  },
});

const CONFIGS: ModelConfig[] = [
  {
    inputSize: 4,
    hiddenSize: 5,
    numLayers: 2,
    bidirectional: true,
    dropout: 0.1,
    pooling: "last",
    numClasses: 5,
  },
  {
    inputSize: 3,
    hiddenSize: 4,
    numLayers: 1,
    bidirectional: false,
    dropout: 0,
    pooling: "mean",
    numClasses: 5,
  },
  {
    inputSize: 3,
    hiddenSize: 4,
    numLayers: 2,
    bidirectional: true,
    dropout: 0,
    pooling: "mean",
    numClasses: 3,
  },
];

function batch(cfg: ModelConfig, lengths: number[], steps: number) {
  const x = new Float32Array(lengths.length * steps * cfg.inputSize);
  const mask = new Float32Array(lengths.length * steps);
  let s = 17;
  const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 31) - 1;
  lengths.forEach((n, b) => {
    for (let t = steps - n; t < steps; t++) {
      mask[b * steps + t] = 1;
      for (let k = 0; k < cfg.inputSize; k++) x[(b * steps + t) * cfg.inputSize + k] = next();
    }
  });
  const rows = Array.from(
    { length: lengths.length },
    (_, b) =>
      Array.from({ length: steps }, (_, t) =>
        Array.from(
          x.subarray((b * steps + t) * cfg.inputSize, (b * steps + t + 1) * cfg.inputSize),
        )),
  );
  return {
    x: tf.tensor3d(x, [lengths.length, steps, cfg.inputSize]),
    mask: tf.tensor2d(mask, [lengths.length, steps]),
    rows,
  };
}

Deno.test({
  name:
    "exportTorchStateDict() has nn.LSTM/nn.Linear names, shapes and values a PyTorch-semantics numpy forward reproduces",
  ignore,
  async fn(t) {
    for (const cfg of CONFIGS) {
      await t.step(
        `${cfg.bidirectional ? "bi" : "uni"} ${cfg.numLayers} layers ${cfg.pooling}`,
        async () => {
          const model = createLstmClassifier(cfg, { seed: 21 });
          const lengths = [6, 3, 1];
          const { x, mask, rows } = batch(cfg, lengths, 6);
          const logits = tf.tidy(() => model.apply(x, mask).arraySync().flat());
          const bytes = await exportTorchStateDict(model);
          const r = await pythonJson<
            {
              names: string[];
              expected: string[];
              bad: string[];
              meta: Record<string, string>;
              logits: number[];
            }
          >(
            PY_READER + PY_TORCH_FORWARD + String.raw`
inp = json.load(sys.stdin)
st = read_st(base64.b64decode(inp["file"]))
cfg = inp["config"]
sd = {k: a for k, (d, a) in st["tensors"].items()}
H, D = cfg["hiddenSize"], 2 if cfg["bidirectional"] else 1
bad = []
for k, (d, a) in st["tensors"].items():
    if d != "F32": bad.append(f"{k} dtype {d}")
    m = k.split(".")
    if k.startswith("lstm."):
        l = int(k.split("_l")[1].split("_")[0])
        n_in = cfg["inputSize"] if l == 0 else D * H
        want = {"weight_ih": (4*H, n_in), "weight_hh": (4*H, H), "bias_ih": (4*H,), "bias_hh": (4*H,)}[k[5:].split("_l")[0]]
        if a.shape != want: bad.append(f"{k} shape {a.shape} != {want}")
        if "bias_hh" in k and np.any(a != 0): bad.append(f"{k} not zero")
sizes = [D * H, 128, 64, cfg["numClasses"]]
for j, (i, o) in zip((0, 3, 6), zip(sizes, sizes[1:])):
    if sd[f"classifier.{j}.weight"].shape != (o, i): bad.append(f"classifier.{j}.weight shape")
    if sd[f"classifier.{j}.bias"].shape != (o,): bad.append(f"classifier.{j}.bias shape")
logits = torch_forward(sd, cfg, np.array(inp["x"]), inp["lengths"])
print(json.dumps(dict(names=list(sd), expected=expected_names(cfg), bad=bad, meta=st["meta"],
                      logits=logits.ravel().tolist())))
`,
            { stdin: JSON.stringify({ file: b64(bytes), config: cfg, x: rows, lengths }) },
          );
          assert.deepEqual(r.names, r.expected);
          assert.deepEqual(r.bad, []);
          assert.equal(r.meta.format, "pt");
          assert.deepEqual(JSON.parse(r.meta.model_config), { ...cfg, lstmImpl: "fused" });
          const err = relativeError(logits, r.logits);
          assert.ok(err <= 1e-5, `logits differ from the numpy PyTorch-semantics forward: ${err}`);
          tf.dispose([x, mask]);
          model.dispose();
        },
      );
    }
  },
});

Deno.test({
  name: "loadClassifierWeights() loads a numpy-written PyTorch state_dict (bias_hh folded in)",
  ignore,
  async fn() {
    const cfg = CONFIGS[0];
    const lengths = [5, 2];
    const model = createLstmClassifier(cfg, { seed: 1 });
    const { x, mask, rows } = batch(cfg, lengths, 5);
    const r = await pythonJson<{ file: string; logits: number[] }>(
      PY_TORCH_FORWARD + String.raw`
import base64, json, struct, sys
import numpy as np
inp = json.load(sys.stdin); cfg = inp["config"]
rng = np.random.default_rng(5)
H, D = cfg["hiddenSize"], 2 if cfg["bidirectional"] else 1
sd = {}
for name in expected_names(cfg):
    if name.startswith("lstm."):
        l = int(name.split("_l")[1].split("_")[0]); n_in = cfg["inputSize"] if l == 0 else D * H
        shape = {"weight_ih": (4*H, n_in), "weight_hh": (4*H, H)}.get(name[5:].split("_l")[0], (4*H,))
    else:
        j = int(name.split(".")[1]) // 3; sizes = [D * H, 128, 64, cfg["numClasses"]]
        shape = (sizes[j + 1], sizes[j]) if name.endswith("weight") else (sizes[j + 1],)
    sd[name] = rng.uniform(-0.4, 0.4, size=shape).astype("<f4")
header, blobs, off = {}, [], 0
for k, a in sd.items():
    b = a.tobytes(); header[k] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
    blobs.append(b); off += len(b)
h = json.dumps(header).encode(); h += b" " * (-len(h) % 8)
buf = struct.pack("<Q", len(h)) + h + b"".join(blobs)
logits = torch_forward(sd, cfg, np.array(inp["x"]), inp["lengths"])
print(json.dumps(dict(file=base64.b64encode(buf).decode(), logits=logits.ravel().tolist())))
`,
      { stdin: JSON.stringify({ config: cfg, x: rows, lengths }) },
    );
    loadClassifierWeights(model, unb64(r.file));
    const logits = tf.tidy(() => model.apply(x, mask).arraySync().flat());
    const err = relativeError(logits, r.logits);
    assert.ok(err <= 1e-5, `logits after loading differ from numpy: ${err}`);
    tf.dispose([x, mask]);
    model.dispose();
  },
});

Deno.test("loadClassifierWeights() round-trips exportTorchStateDict() exactly", async () => {
  const cfg = CONFIGS[0];
  const a = createLstmClassifier(cfg, { seed: 1 });
  const b = createLstmClassifier(cfg, { seed: 2 });
  loadClassifierWeights(b, await exportTorchStateDict(a));
  await assertSameWeights(b, a);
  a.dispose();
  b.dispose();
});

Deno.test("loadClassifierWeights() loads files written with the old head.* names", async () => {
  const cfg = CONFIGS[0];
  const a = createLstmClassifier(cfg, { seed: 1 });
  const b = createLstmClassifier(cfg, { seed: 2 });
  const file = decodeSafetensors(await exportTorchStateDict(a));
  const renamed = Object.fromEntries(
    Object.entries(file.tensors).map(([k, t]) => [k.replace(/^classifier\./, "head."), t]),
  );
  assert.ok(Object.keys(renamed).includes("head.6.weight"));
  loadClassifierWeights(b, encodeSafetensors(renamed));
  await assertSameWeights(b, a);
  a.dispose();
  b.dispose();
});

Deno.test("decodeSafetensors() and loadClassifierWeights() reject malformed input", async (t) => {
  const good = encodeSafetensors({
    w: { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) },
  });
  const headerLen = Number(new DataView(good.buffer).getBigUint64(0, true));
  await t.step("truncated", () => {
    assert.throws(() => decodeSafetensors(good.subarray(0, 20)), {
      name: "RangeError",
      message:
        `Cannot decode safetensors: header length ${headerLen} exceeds the 12 bytes after it ` +
        "(truncated file, or not a safetensors file)",
    });
    assert.throws(() => decodeSafetensors(good.subarray(0, 4)), {
      name: "RangeError",
      message:
        "Cannot decode safetensors: expected at least 8 bytes for the header length, received 4",
    });
  });
  await t.step("data cut short", () => {
    assert.throws(() => decodeSafetensors(good.subarray(0, good.length - 1)), {
      name: "RangeError",
      message:
        'Cannot decode safetensors tensor "w": data_offsets [0, 8] must span 8 bytes (F32 [2]) ' +
        "inside the 7-byte data section",
    });
  });
  await t.step("bad JSON", () => {
    const bad = good.slice();
    bad[8] = 0x21; // "!"
    assert.throws(() => decodeSafetensors(bad), {
      name: "SyntaxError",
      message: `Cannot decode safetensors: the ${headerLen}-byte header is not valid JSON`,
    });
  });
  await t.step("unknown dtype", () => {
    assert.throws(
      () =>
        encodeSafetensors({ w: { dtype: "BF16" as "F32", shape: [1], data: new Float32Array(1) } }),
      {
        name: "RangeError",
        message:
          'Cannot encode safetensors tensor "w": dtype "BF16" is not one of F64, F32, I64, I32, I16, I8, U64, U32, U16, U8, BOOL',
      },
    );
  });
  await t.step("shape/data mismatch", () => {
    assert.throws(
      () => encodeSafetensors({ w: { dtype: "F32", shape: [3], data: new Float32Array(2) } }),
      {
        name: "RangeError",
        message: 'Cannot encode safetensors tensor "w": shape [3] holds 3 elements, data has 2',
      },
    );
  });
  await t.step("wrong architecture", async () => {
    const small = createLstmClassifier({ ...CONFIGS[0], numLayers: 1 }, { seed: 1 });
    const big = createLstmClassifier(CONFIGS[0], { seed: 1 });
    const bytes = await exportTorchStateDict(small);
    const before = await big.namedVariables[0].variable.data();
    assert.throws(() => loadClassifierWeights(big, bytes), {
      name: "RangeError",
      message: 'Cannot load classifier weights: missing ["lstm.weight_ih_l1","lstm.weight_hh_l1",' +
        '"lstm.bias_ih_l1","lstm.bias_hh_l1","lstm.weight_ih_l1_reverse","lstm.weight_hh_l1_reverse",' +
        '"lstm.bias_ih_l1_reverse","lstm.bias_hh_l1_reverse"], unexpected []; check hiddenSize, ' +
        "numLayers and bidirectional match the saved model",
    });
    assert.deepEqual(
      await big.namedVariables[0].variable.data(),
      before,
      "weights changed on failure",
    );
    const other = createLstmClassifier({ ...CONFIGS[0], hiddenSize: 6 }, { seed: 1 });
    const bigBytes = await exportTorchStateDict(big);
    assert.throws(() => loadClassifierWeights(other, bigBytes), {
      name: "RangeError",
      message:
        'Cannot load classifier weight "lstm.weight_ih_l0": expected shape [24,4], received [20,4]',
    });
    [small, big, other].forEach((m) => m.dispose());
  });
});
