/**
 * Deno-only parts of the benchmark: the references timed in child processes (a plain numpy
 * forward + BPTT + Adam step, and PyTorch's `nn.LSTM` step with packed sequences and Adam,
 * on the same workload) and the process's peak RSS and CPU time.
 *
 * @module
 */
import process from "node:process";
import type { PerfWorkload } from "./workload.ts";

/** Timings of the numpy reference step. */
export interface NumpyPerf {
  readonly medianMs: number;
  /** Median CPU time of the timed steps (all threads of the process). */
  readonly cpuMs: number;
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
ts, cs = [], []
for s in range(n_steps):
    t0, c0 = time.perf_counter(), time.process_time(); step(s + 2)
    ts.append(time.perf_counter() - t0); cs.append(time.process_time() - c0)
print(json.dumps({"medianMs": float(np.median(ts)) * 1000, "cpuMs": float(np.median(cs)) * 1000,
                  "warmupMs": warm * 1000, "numpyVersion": np.__version__}))
`;

/**
 * Times the numpy forward + BPTT + Adam step on `w` via python3 (1 warm-up + `steps`),
 * with one BLAS thread unless `OPENBLAS_NUM_THREADS` / `OMP_NUM_THREADS` are set.
 */
export function timeNumpyStep(w: PerfWorkload, steps: number): Promise<NumpyPerf> {
  // One BLAS thread unless the caller says otherwise: on a shared 2-core machine OpenBLAS'
  // spinning threads made the W-small step 6-20x slower (12 ms vs 69-244 ms).
  return runPythonJson<NumpyPerf>("the numpy reference", "python3", NUMPY_STEP, [
    JSON.stringify(w),
    String(steps),
  ], {
    OPENBLAS_NUM_THREADS: Deno.env.get("OPENBLAS_NUM_THREADS") ?? "1",
    OMP_NUM_THREADS: Deno.env.get("OMP_NUM_THREADS") ?? "1",
    MKL_NUM_THREADS: Deno.env.get("MKL_NUM_THREADS") ?? "1",
  });
}

/** Timings of PyTorch's step. */
export interface TorchPerf {
  readonly medianMs: number;
  /** Median CPU time of the timed steps (all threads of the process). */
  readonly cpuMs: number;
  readonly warmupMs: number;
  /** `torch.get_num_threads()` during the run. */
  readonly threads: number;
  readonly torchVersion: string;
  /** The Python that ran it. */
  readonly python: string;
}

// nn.LSTM (packed sequences: valid steps only), the classifier's head (Linear 128, ReLU,
// Linear 64, ReLU, Linear C; no dropout), "last" pooling from h_n, cross-entropy, Adam.
// The data are the numpy step's: normal features, lengths in [T/2, T], uniform labels.
const TORCH_STEP = String.raw`
import json, sys, time
import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence
w = json.loads(sys.argv[1]); n_steps = int(sys.argv[2]); torch.set_num_threads(int(sys.argv[3]))
B, T, F, H, L, C = w["batch"], w["steps"], w["features"], w["hidden"], w["layers"], w["classes"]
bi = bool(w["bidirectional"]); D = 2 if bi else 1
torch.manual_seed(0); rng = np.random.default_rng(0)
x = torch.from_numpy(rng.standard_normal((B, T, F)).astype(np.float32))
lengths = torch.from_numpy(rng.integers((T + 1) // 2, T + 1, size=B)).long()
y = torch.from_numpy(rng.integers(0, C, size=B)).long()

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(F, H, L, batch_first=True, bidirectional=bi)
        self.head = nn.Sequential(nn.Linear(D * H, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                                  nn.Linear(64, C))
    def forward(self, x, lengths):
        _, (h, _) = self.lstm(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
        return self.head(torch.cat([h[-2], h[-1]], 1) if bi else h[-1])

net = Net(); opt = torch.optim.Adam(net.parameters(), lr=1e-3)
def step():
    opt.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(net(x, lengths), y)
    loss.backward(); opt.step()
    return loss.item()
t0 = time.perf_counter(); step(); warm = time.perf_counter() - t0
ts, cs = [], []
for s in range(n_steps):
    t0, c0 = time.perf_counter(), time.process_time(); step()
    ts.append(time.perf_counter() - t0); cs.append(time.process_time() - c0)
print(json.dumps({"medianMs": float(np.median(ts)) * 1000, "cpuMs": float(np.median(cs)) * 1000,
                  "warmupMs": warm * 1000, "threads": torch.get_num_threads(),
                  "torchVersion": torch.__version__, "python": sys.executable}))
`;

/** Where the CI's PyTorch venv lives (`.ci/run`), relative to $HOME. */
const TORCH_VENV = ".cache/component-x-torch";

/**
 * The Python to run PyTorch with: `$TORCH_PYTHON`, else the CI's venv
 * (`$HOME/.cache/component-x-torch/bin/python`), else `python3`, whichever imports torch
 * first; `{ python: null, note }` when none does.
 */
export async function findTorchPython(): Promise<{ python: string | null; note: string }> {
  const home = Deno.env.get("HOME");
  const candidates = [
    Deno.env.get("TORCH_PYTHON"),
    home ? `${home}/${TORCH_VENV}/bin/python` : undefined,
    "python3",
  ].filter((p): p is string => typeof p === "string" && p.length > 0);
  for (const python of candidates) {
    try {
      const out = await new Deno.Command(python, {
        args: ["-c", "import torch"],
        stdout: "null",
        stderr: "null",
      }).output();
      if (out.success) return { python, note: `PyTorch from ${python}` };
    } catch {
      // not installed there: try the next one
    }
  }
  return {
    python: null,
    note: `PyTorch is not importable from ${candidates.join(", ")}: set TORCH_PYTHON to a ` +
      "Python with torch (pip install torch) to time it",
  };
}

async function runPythonJson<T>(
  what: string,
  python: string,
  script: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<T> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(python, {
      args: ["-c", script, ...args],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (cause) {
    throw new Error(`Cannot time ${what}: ${python} could not be started`, { cause });
  }
  if (!out.success) {
    throw new Error(
      `Cannot time ${what}: ${python} failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return JSON.parse(new TextDecoder().decode(out.stdout)) as T;
}

/**
 * The environment PyTorch runs in: `OMP_WAIT_POLICY=PASSIVE` unless set. PyTorch's OpenMP
 * threads otherwise spin while they wait; on this project's shared 2-core machine under
 * load that made its 2-thread W step 25-31 s instead of 2-3.5 s (1 thread: 1.9-3.5 s), a
 * figure no one should be compared against.
 */
export function torchEnv(): Record<string, string> {
  return { OMP_WAIT_POLICY: Deno.env.get("OMP_WAIT_POLICY") ?? "PASSIVE" };
}

/** Times PyTorch's step on `w` with `threads` threads (1 warm-up + `steps`). */
export function timeTorchStep(
  w: PerfWorkload,
  steps: number,
  threads: number,
  python: string,
): Promise<TorchPerf> {
  return runPythonJson<TorchPerf>(
    "the PyTorch reference",
    python,
    TORCH_STEP,
    [JSON.stringify(w), String(steps), String(threads)],
    torchEnv(),
  );
}

/** CPU time of this process so far (ms, all threads). */
export function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
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
