/**
 * Deno-only parts of the benchmark: the numpy yardstick (a plain numpy forward + BPTT +
 * Adam step on the same workload, timed by python3) and the process's peak RSS.
 *
 * @module
 */
import type { PerfWorkload } from "./workload.ts";

/** Timings of the numpy reference step. */
export interface NumpyPerf {
  readonly medianMs: number;
  readonly warmupMs: number;
  readonly numpyVersion: string;
}

// Two-layer BiLSTM (pre-padded mask, state held on padding), last pooling, a linear head,
// softmax cross-entropy, full BPTT and Adam, all float32, vectorised over the batch.
const NUMPY_STEP = String.raw`
import json, sys, time
import numpy as np
w = json.loads(sys.argv[1]); n_steps = int(sys.argv[2])
B, T, F, H, L, C = w["batch"], w["steps"], w["features"], w["hidden"], w["layers"], w["classes"]
D = 2 if w["bidirectional"] else 1
rng = np.random.default_rng(0)
f32 = np.float32
x = rng.standard_normal((B, T, F)).astype(f32)
lens = rng.integers((T + 1) // 2, T + 1, size=B)
mask = (np.arange(T)[None, :] >= (T - lens)[:, None]).astype(f32)
y = rng.integers(0, C, size=B)
params = []
for l in range(L):
    n = F if l == 0 else D * H
    for d in range(D):
        s = 1 / np.sqrt(H)
        params += [rng.uniform(-s, s, (n, 4 * H)).astype(f32), rng.uniform(-s, s, (H, 4 * H)).astype(f32), np.zeros(4 * H, f32)]
params += [rng.uniform(-0.1, 0.1, (D * H, C)).astype(f32), np.zeros(C, f32)]
m_ = [np.zeros_like(p) for p in params]; v_ = [np.zeros_like(p) for p in params]
sig = lambda z: 1 / (1 + np.exp(-z))

def direction(inp, K, R, b, rev):
    proj = (inp.reshape(B * T, -1) @ K + b).reshape(B, T, 4 * H)
    h = np.zeros((B, H), f32); c = np.zeros((B, H), f32)
    hs = np.zeros((B, T, H), f32); cache = [None] * T
    order = range(T - 1, -1, -1) if rev else range(T)
    for t in order:
        z = proj[:, t] + h @ R
        i, f, g, o = sig(z[:, :H]), sig(z[:, H:2*H]), np.tanh(z[:, 2*H:3*H]), sig(z[:, 3*H:])
        cn = f * c + i * g; tc = np.tanh(cn); hn = o * tc
        m = mask[:, t:t+1]
        cache[t] = (i, f, g, o, tc, c, h, m)
        c = c + m * (cn - c); h = h + m * (hn - h); hs[:, t] = h
    return hs, cache

def direction_back(inp, K, R, cache, dhs, rev):
    dz_all = np.zeros((B, T, 4 * H), f32); hprev = np.zeros((B, T, H), f32)
    dh = np.zeros((B, H), f32); dc = np.zeros((B, H), f32)
    order = range(T) if rev else range(T - 1, -1, -1)
    for t in order:
        i, f, g, o, tc, cp, hp, m = cache[t]
        dht = dh + dhs[:, t]; dhn = m * dht; dci = m * dc
        dcn = dci + dhn * o * (1 - tc * tc)
        dz = np.concatenate([dcn * g * i * (1 - i), dcn * cp * f * (1 - f), dcn * i * (1 - g * g), dhn * tc * o * (1 - o)], 1)
        dz_all[:, t] = dz; hprev[:, t] = hp
        dh = dht - dhn + dz @ R.T; dc = dc - dci + dcn * f
    dz2 = dz_all.reshape(B * T, -1)
    dK = inp.reshape(B * T, -1).T @ dz2; dR = hprev.reshape(B * T, H).T @ dz2
    return dK, dR, dz2.sum(0), (dz2 @ K.T).reshape(B, T, -1)

def step(k):
    inputs = [x]; caches = []; out = x
    for l in range(L):
        outs = []
        for d in range(D):
            K, R, b = params[3 * (l * D + d): 3 * (l * D + d) + 3]
            hs, cache = direction(out, K, R, b, d == 1); outs.append(hs); caches.append(cache)
        out = np.concatenate(outs, 2); inputs.append(out)
    pooled = np.concatenate([out[:, T - 1, :H]] + ([out[:, 0, H:]] if D == 2 else []), 1)
    Wh, bh = params[-2], params[-1]
    logits = pooled @ Wh + bh
    p = np.exp(logits - logits.max(1, keepdims=True)); p /= p.sum(1, keepdims=True)
    dlog = p.copy(); dlog[np.arange(B), y] -= 1; dlog /= B
    grads = [None] * len(params)
    grads[-2] = pooled.T @ dlog; grads[-1] = dlog.sum(0)
    dpool = dlog @ Wh.T
    dout = np.zeros((B, T, D * H), f32); dout[:, T - 1, :H] = dpool[:, :H]
    if D == 2: dout[:, 0, H:] = dpool[:, H:]
    for l in range(L - 1, -1, -1):
        dinp = 0
        for d in range(D):
            j = l * D + d; K, R, b = params[3 * j: 3 * j + 3]
            dK, dR, db, dx = direction_back(inputs[l], K, R, caches[j], dout[:, :, d * H:(d + 1) * H], d == 1)
            grads[3 * j: 3 * j + 3] = [dK, dR, db]; dinp = dinp + dx
        dout = dinp
    for q in range(len(params)):
        g = grads[q]; m_[q] = 0.9 * m_[q] + 0.1 * g; v_[q] = 0.999 * v_[q] + 0.001 * g * g
        params[q] -= (1e-3 * (m_[q] / (1 - 0.9 ** k)) / (np.sqrt(v_[q] / (1 - 0.999 ** k)) + 1e-8)).astype(f32)

t0 = time.perf_counter(); step(1); warm = time.perf_counter() - t0
ts = []
for s in range(n_steps):
    t0 = time.perf_counter(); step(s + 2); ts.append(time.perf_counter() - t0)
print(json.dumps({"medianMs": float(np.median(ts)) * 1000, "warmupMs": warm * 1000, "numpyVersion": np.__version__}))
`;

/**
 * Times the numpy forward + BPTT + Adam step on `w` via python3 (1 warm-up + `steps`),
 * with one BLAS thread unless `OPENBLAS_NUM_THREADS` / `OMP_NUM_THREADS` are set.
 */
export async function timeNumpyStep(w: PerfWorkload, steps: number): Promise<NumpyPerf> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("python3", {
      args: ["-c", NUMPY_STEP, JSON.stringify(w), String(steps)],
      // One BLAS thread unless the caller says otherwise: on a shared 2-core machine
      // OpenBLAS' spinning threads made the W-small step 6-20x slower (12 ms vs 69-244 ms).
      env: {
        OPENBLAS_NUM_THREADS: Deno.env.get("OPENBLAS_NUM_THREADS") ?? "1",
        OMP_NUM_THREADS: Deno.env.get("OMP_NUM_THREADS") ?? "1",
        MKL_NUM_THREADS: Deno.env.get("MKL_NUM_THREADS") ?? "1",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (cause) {
    throw new Error(
      "Cannot time the numpy reference: python3 could not be started; install python3 " +
        "with numpy or leave out --numpy",
      { cause },
    );
  }
  if (!out.success) {
    throw new Error(
      `Cannot time the numpy reference: python3 failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return JSON.parse(new TextDecoder().decode(out.stdout)) as NumpyPerf;
}

/**
 * Resets the kernel's peak-RSS counter of this process (Linux `/proc/self/clear_refs`);
 * returns false where that is not possible.
 */
export function resetPeakRss(): boolean {
  try {
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

/** Peak resident set size of this process in MB (Linux `VmHWM`), or undefined. */
export function peakRssMb(): number | undefined {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}
