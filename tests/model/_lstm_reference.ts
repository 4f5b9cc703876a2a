/**
 * An independent numpy LSTM (forward + BPTT, float64, one time step at a time) with the
 * contract's masking semantics, run by python3 at test time, and a driver that compares
 * an {@link LstmLayerFn}-style stack against it.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "#assert";
import { pythonJson } from "../_python.ts";
import type { LstmLayerWeights } from "../../src/model/mod.ts";

/** What the numpy side generates and computes. */
export interface LstmCase {
  readonly name: string;
  readonly batch: number;
  readonly steps: number;
  readonly inputSize: number;
  readonly hidden: number;
  readonly layers: number;
  readonly bidirectional: boolean;
  /** Valid steps per row (pre-padding: the last `lengths[i]` steps are valid). */
  readonly lengths: readonly number[];
  readonly seed: number;
}

interface DirJson {
  kernel: number[];
  recurrent: number[];
  bias: number[];
  dKernel: number[];
  dRecurrent: number[];
  dBias: number[];
}

/** The numpy reference's answer. */
export interface LstmReference {
  x: number[];
  mask: number[];
  dy: number[];
  out: number[];
  dx: number[];
  layers: { forward: DirJson; backward?: DirJson }[];
}

const SCRIPT = String.raw`
import json, sys
import numpy as np

spec = json.load(sys.stdin)
rng = np.random.default_rng(spec["seed"])
B, T, In, H = spec["batch"], spec["steps"], spec["inputSize"], spec["hidden"]
L, bi = spec["layers"], spec["bidirectional"]
D = 2 if bi else 1

def f32(a):
    # Inputs are float32 on the tfjs side: round them the same way, then compute in float64.
    return a.astype(np.float32).astype(np.float64)

lengths = np.array(spec["lengths"])
mask = (np.arange(T)[None, :] >= (T - lengths)[:, None]).astype(np.float64)
# Padded steps hold garbage on purpose: the layer must ignore them.
x = f32(rng.normal(size=(B, T, In)))

def sig(z):
    return 1.0 / (1.0 + np.exp(-z))

def dir_forward(x, K, R, b, reverse):
    Bn, Tn, _ = x.shape
    h = np.zeros((Bn, H)); c = np.zeros((Bn, H))
    out = np.zeros((Bn, Tn, H)); cache = []
    for t in (range(Tn - 1, -1, -1) if reverse else range(Tn)):
        z = x[:, t] @ K + h @ R + b
        i, f = sig(z[:, :H]), sig(z[:, H:2 * H])
        g, o = np.tanh(z[:, 2 * H:3 * H]), sig(z[:, 3 * H:])
        cn = f * c + i * g
        hn = o * np.tanh(cn)
        m = mask[:, t:t + 1]
        cache.append((t, h, c, i, f, g, o, cn))
        c = m * cn + (1 - m) * c   # hold the state on padded steps
        h = m * hn + (1 - m) * h
        out[:, t] = h
    return out, cache

def dir_backward(dout, x, K, R, cache):
    dK = np.zeros_like(K); dR = np.zeros_like(R); db = np.zeros(4 * H); dx = np.zeros_like(x)
    dh = np.zeros((x.shape[0], H)); dc = np.zeros((x.shape[0], H))
    for (t, hp, cp, i, f, g, o, cn) in reversed(cache):
        m = mask[:, t:t + 1]
        dh = dh + dout[:, t]
        dhn, dcn = m * dh, m * dc
        keep_h, keep_c = (1 - m) * dh, (1 - m) * dc
        tc = np.tanh(cn)
        do = dhn * tc
        dcn = dcn + dhn * o * (1 - tc ** 2)
        dz = np.concatenate([dcn * g * i * (1 - i), dcn * cp * f * (1 - f),
                             dcn * i * (1 - g ** 2), do * o * (1 - o)], axis=1)
        dK += x[:, t].T @ dz
        dR += hp.T @ dz
        db += dz.sum(axis=0)
        dx[:, t] += dz @ K.T
        dh = keep_h + dz @ R.T
        dc = keep_c + dcn * f
    return dx, dK, dR, db

weights = []
for l in range(L):
    n_in = In if l == 0 else D * H
    weights.append([{k: f32(rng.uniform(-0.6, 0.6, size=s)) for k, s in
                     (("kernel", (n_in, 4 * H)), ("recurrent", (H, 4 * H)), ("bias", (4 * H,)))}
                    for _ in range(D)])

# Forward through the stack, keeping what backward needs.
inputs, caches, h = [], [], x
for l in range(L):
    inputs.append(h)
    outs, cs = [], []
    for d in range(D):
        w = weights[l][d]
        o, cache = dir_forward(h, w["kernel"], w["recurrent"], w["bias"], reverse=(d == 1))
        outs.append(o); cs.append(cache)
    caches.append(cs)
    h = np.concatenate(outs, axis=2)
dy = f32(rng.normal(size=h.shape))   # loss = sum(out * dy)

grad = dy
grads = [None] * L
for l in range(L - 1, -1, -1):
    dx_total = np.zeros_like(inputs[l])
    gl = []
    for d in range(D):
        w = weights[l][d]
        dx, dK, dR, db = dir_backward(grad[:, :, d * H:(d + 1) * H], inputs[l], w["kernel"],
                                      w["recurrent"], caches[l][d])
        dx_total += dx
        gl.append((dK, dR, db))
    grads[l] = gl
    grad = dx_total

def flat(a):
    return np.asarray(a, dtype=np.float64).ravel().tolist()

layers = []
for l in range(L):
    dirs = []
    for d in range(D):
        w = weights[l][d]; dK, dR, db = grads[l][d]
        dirs.append(dict(kernel=flat(w["kernel"]), recurrent=flat(w["recurrent"]), bias=flat(w["bias"]),
                         dKernel=flat(dK), dRecurrent=flat(dR), dBias=flat(db)))
    layers.append({"forward": dirs[0], **({"backward": dirs[1]} if bi else {})})
print(json.dumps(dict(x=flat(x), mask=flat(mask), dy=flat(dy), out=flat(h), dx=flat(grad), layers=layers)))
`;

/** Runs the numpy reference for one case. */
export function numpyLstmReference(c: LstmCase): Promise<LstmReference> {
  return pythonJson<LstmReference>(SCRIPT, { stdin: JSON.stringify(c) });
}

/** max |actual - expected| / max |expected|: the error relative to the tensor's scale. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, "length mismatch");
  let err = 0;
  let scale = 0;
  for (let k = 0; k < expected.length; k++) {
    err = Math.max(err, Math.abs(actual[k] - expected[k]));
    scale = Math.max(scale, Math.abs(expected[k]));
  }
  assert.ok(Number.isFinite(err), "non-finite values");
  return err / Math.max(scale, 1e-30);
}

/** A layer function with the contract's signature (any implementation). */
export type LayerRunner = (
  x: tf.Tensor3D,
  mask: tf.Tensor2D,
  weights: LstmLayerWeights,
) => tf.Tensor3D;

/** Outputs and gradients of a stack of layers, as plain arrays. */
export interface StackResult {
  out: Float32Array;
  dx: Float32Array;
  /** Per layer, per direction: [dKernel, dRecurrent, dBias]. */
  dWeights: Float32Array[][][];
}

/**
 * Runs `run` as a stack over the reference's inputs and weights and returns
 * outputs and gradients of `sum(out * dy)` with respect to x and every weight.
 */
export async function runStack(
  c: LstmCase,
  ref: LstmReference,
  run: LayerRunner,
): Promise<StackResult> {
  const { batch: B, steps: T, inputSize: In, hidden: H } = c;
  const D = c.bidirectional ? 2 : 1;
  const vars: tf.Variable[] = [];
  const v = (data: number[], shape: number[]) => {
    const t = tf.tensor(data, shape, "float32");
    const variable = tf.variable(t);
    t.dispose();
    vars.push(variable);
    return variable;
  };
  const x = v(ref.x, [B, T, In]);
  const layers: LstmLayerWeights[] = ref.layers.map((l, li) => {
    const n = li === 0 ? In : D * H;
    const dir = (d: DirJson) => ({
      kernel: v(d.kernel, [n, 4 * H]),
      recurrent: v(d.recurrent, [H, 4 * H]),
      bias: v(d.bias, [4 * H]),
    });
    return l.backward
      ? { forward: dir(l.forward), backward: dir(l.backward) }
      : { forward: dir(l.forward) };
  });
  const mask = tf.tensor2d(ref.mask, [B, T]);
  const dy = tf.tensor3d(ref.dy, [B, T, D * H]);
  try {
    const outT = tf.tidy(() => {
      let h = x as tf.Tensor3D;
      for (const l of layers) h = run(h, mask, l);
      return h;
    });
    const { value, grads } = tf.variableGrads(() => {
      let h = x as tf.Tensor3D;
      for (const l of layers) h = run(h, mask, l);
      return tf.sum(tf.mul(h, dy));
    }, vars);
    const read = async (t: tf.Tensor) => (await t.data()) as Float32Array;
    const result: StackResult = {
      out: await read(outT),
      dx: await read(grads[x.name]),
      dWeights: [],
    };
    for (const l of layers) {
      const dirs = l.backward ? [l.forward, l.backward] : [l.forward];
      const per: Float32Array[][] = [];
      for (const d of dirs) {
        per.push([
          await read(grads[d.kernel.name]),
          await read(grads[d.recurrent.name]),
          await read(grads[d.bias.name]),
        ]);
      }
      result.dWeights.push(per);
    }
    tf.dispose([outT, value, ...Object.values(grads)]);
    return result;
  } finally {
    tf.dispose([mask, dy, ...vars]);
  }
}

/** Asserts every output and gradient of `got` is within `tol` (relative) of the reference. */
export function assertMatchesReference(got: StackResult, ref: LstmReference, tol: number): string {
  const report: string[] = [];
  const check = (what: string, a: Float32Array, e: number[]) => {
    const r = relativeError(a, e);
    report.push(`${what} ${r.toExponential(1)}`);
    assert.ok(r <= tol, `${what}: relative error ${r} exceeds ${tol}`);
  };
  check("out", got.out, ref.out);
  check("dx", got.dx, ref.dx);
  ref.layers.forEach((l, li) => {
    const dirs = l.backward ? [l.forward, l.backward] : [l.forward];
    dirs.forEach((d, di) => {
      const tag = `l${li}${di === 1 ? "_reverse" : ""}`;
      check(`dKernel_${tag}`, got.dWeights[li][di][0], d.dKernel);
      check(`dRecurrent_${tag}`, got.dWeights[li][di][1], d.dRecurrent);
      check(`dBias_${tag}`, got.dWeights[li][di][2], d.dBias);
    });
  });
  return report.join(", ");
}

/** Small cases: uni and bi, 1 and 2 layers, padding of every kind (full, partial, 1 step). */
export const CASES: readonly LstmCase[] = [
  {
    name: "uni 1 layer",
    batch: 3,
    steps: 7,
    inputSize: 5,
    hidden: 4,
    layers: 1,
    bidirectional: false,
    lengths: [7, 3, 1],
    seed: 1,
  },
  {
    name: "uni 2 layers",
    batch: 3,
    steps: 7,
    inputSize: 5,
    hidden: 4,
    layers: 2,
    bidirectional: false,
    lengths: [2, 7, 5],
    seed: 2,
  },
  {
    name: "bi 1 layer",
    batch: 3,
    steps: 7,
    inputSize: 5,
    hidden: 4,
    layers: 1,
    bidirectional: true,
    lengths: [7, 3, 1],
    seed: 3,
  },
  {
    name: "bi 2 layers",
    batch: 4,
    steps: 6,
    inputSize: 3,
    hidden: 5,
    layers: 2,
    bidirectional: true,
    lengths: [1, 6, 4, 2],
    seed: 4,
  },
];

/** Masks at the edges: rows with no valid step, no valid step at all, no padding, one step. */
export const MASK_CASES: readonly LstmCase[] = [
  {
    name: "rows with no valid step",
    batch: 4,
    steps: 6,
    inputSize: 5,
    hidden: 8,
    layers: 2,
    bidirectional: true,
    lengths: [0, 6, 3, 0],
    seed: 11,
  },
  {
    name: "no valid step at all",
    batch: 2,
    steps: 4,
    inputSize: 3,
    hidden: 4,
    layers: 1,
    bidirectional: true,
    lengths: [0, 0],
    seed: 12,
  },
  {
    name: "no padding",
    batch: 3,
    steps: 5,
    inputSize: 4,
    hidden: 16,
    layers: 2,
    bidirectional: true,
    lengths: [5, 5, 5],
    seed: 13,
  },
  {
    name: "uni, one valid step per row",
    batch: 3,
    steps: 5,
    inputSize: 4,
    hidden: 8,
    layers: 1,
    bidirectional: false,
    lengths: [1, 1, 1],
    seed: 14,
  },
];
