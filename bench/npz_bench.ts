/**
 * NPZ read benchmarks.
 *
 * - `deno bench -A bench/npz_bench.ts`: stored vs deflated reads of a 16 MB sample-like
 *   archive, in memory (`readNpz`) and from disk (`openNpz`), ratios within one run.
 * - `deno run -A bench/npz_bench.ts --big [--mb 1024] [--dir /tmp]`: one-run throughput
 *   (MB/s of array data) and peak RSS for `readNpz`, `openNpz` and numpy's `np.load` on a
 *   ~1 GB stored and a deflated file that numpy writes into `--dir`; each reader runs in
 *   its own process, and the files are deleted afterwards.
 *
 * @module
 */
import { readNpz, writeNpz } from "../src/npz/mod.ts";
import { openNpz } from "../src/npz/open_npz_deno.ts";
import { readNpzFile } from "../src/npz/read_npz_file_deno.ts";

/** Sample-like float32 windows: 64% zero pre-padding, noisy values elsewhere. */
function sampleLike(rows: number, steps = 128, features = 105): Float32Array {
  const x = new Float32Array(rows * steps * features);
  let s = 1;
  for (let i = 0; i < rows; i++) {
    const valid = 1 + (i * 37) % 92;
    for (let j = steps - valid; j < steps; j++) {
      for (let f = 0; f < features; f++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        x[(i * steps + j) * features + f] = (s / 2 ** 32) * (f + 1) * 1000;
      }
    }
  }
  return x;
}

const ROWS = 300; // 300 x 128 x 105 x 4 B = 16 MB
const arrays = {
  sequences: { dtype: "float32" as const, shape: [ROWS, 128, 105], data: sampleLike(ROWS) },
  labels: {
    dtype: "int64" as const,
    shape: [ROWS],
    data: BigInt64Array.from({ length: ROWS }, (_, i) => BigInt(i % 5)),
  },
};
const stored = writeNpz(arrays);
const deflated = writeNpz(arrays, { compress: true });

if (!import.meta.main) {
  const dir = Deno.makeTempDirSync({ prefix: "npz_bench_" });
  const storedPath = `${dir}/stored.npz`;
  const deflatedPath = `${dir}/deflated.npz`;
  Deno.writeFileSync(storedPath, stored);
  Deno.writeFileSync(deflatedPath, deflated);
  globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

  Deno.bench({
    name: "readNpz stored 16 MB",
    group: "readNpz",
    baseline: true,
    fn: () => void readNpz(stored),
  });
  Deno.bench({
    name: "readNpz deflated 16 MB",
    group: "readNpz",
    fn: () => void readNpz(deflated),
  });
  Deno.bench({
    name: "readNpz stored 16 MB, no CRC",
    group: "readNpz",
    fn: () => void readNpz(stored, { verifyCrc: false }),
  });
  Deno.bench({
    name: "openNpz stored read()",
    group: "openNpz",
    baseline: true,
    async fn() {
      using z = await openNpz(storedPath);
      await z.read("sequences");
    },
  });
  Deno.bench({
    name: "openNpz deflated read() (zlib streaming)",
    group: "openNpz",
    async fn() {
      using z = await openNpz(deflatedPath);
      await z.read("sequences");
    },
  });
  Deno.bench({
    name: "openNpz deflated read() (fflate streaming)",
    group: "openNpz",
    async fn() {
      using z = await openNpz(deflatedPath, { inflate: "fflate" });
      await z.read("sequences");
    },
  });
  Deno.bench({
    name: "openNpz stored readRows() 64 rows",
    group: "openNpz",
    async fn() {
      using z = await openNpz(storedPath);
      await z.readRows("sequences", 100, 164);
    },
  });
}

// ---- one-run measurement on ~1 GB files (deno run -A bench/npz_bench.ts --big) ----

function peakRssMb(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}

async function measureOne(method: string, path: string): Promise<void> {
  const t0 = performance.now();
  let bytes = 0;
  if (method === "readNpz") {
    const all = readNpz(await Deno.readFile(path));
    for (const a of Object.values(all)) bytes += a.data.byteLength;
  } else if (method === "readNpzFile") {
    for (const a of Object.values(await readNpzFile(path))) bytes += a.data.byteLength;
  } else {
    using z = await openNpz(path, { inflate: "fflate" });
    for (const m of z.members) bytes += (await z.read(m.name)).data.byteLength;
  }
  const s = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ seconds: s, mb: bytes / 1e6, peakRssMb: peakRssMb() }));
}

const NUMPY_LOAD = `
import json, resource, sys, time, numpy as np
t = time.perf_counter(); n = 0
with np.load(sys.argv[1]) as z:
    arrays = {k: z[k] for k in z.files}  # materialise every array
    n = sum(a.nbytes for a in arrays.values())
s = time.perf_counter() - t
print(json.dumps({"seconds": s, "mb": n / 1e6,
                  "peakRssMb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
`;

const MAKE_FILES = `
import sys, numpy as np
d, rows = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
x = np.zeros((rows, 128, 105), np.float32)
lens = np.clip(rng.gamma(2.0, 23.8, rows).astype(int) + 1, 1, 128)
for i in range(0, rows, 1000):
    block = x[i:i + 1000]
    for j, L in enumerate(lens[i:i + 1000]):
        block[j, 128 - L:] = rng.standard_normal((L, 105), dtype=np.float32) * 1000 + 5000
labels = rng.integers(0, 5, rows)
np.savez(d + "/big_stored.npz", sequences=x, labels=labels, seq_lengths=lens.astype(np.int64))
np.savez_compressed(d + "/big_deflated.npz", sequences=x, labels=labels,
                    seq_lengths=lens.astype(np.int64))
`;

async function run(cmd: string, args: string[]): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(cmd, { args, stderr: "piped" })
    .output();
  if (code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(stderr)}`);
  }
  return new TextDecoder().decode(stdout).trim().split("\n").at(-1)!;
}

async function big(dir: string, mb: number): Promise<void> {
  const rows = Math.round((mb * 2 ** 20) / (128 * 105 * 4));
  const work = await Deno.makeTempDir({ dir, prefix: "npz_big_" });
  try {
    console.log(`writing ${rows} x 128 x 105 float32 with numpy into ${work} ...`);
    await run("python3", ["-c", MAKE_FILES, work, String(rows)]);
    const self = new URL(import.meta.url).pathname;
    for (const file of ["big_stored.npz", "big_deflated.npz"]) {
      const path = `${work}/${file}`;
      const size = (await Deno.stat(path)).size;
      console.log(`\n${file}: ${(size / 1e6).toFixed(0)} MB on disk`);
      for (const method of ["readNpz", "readNpzFile", "openNpz-fflate", "numpy"]) {
        const line = method === "numpy"
          ? await run("python3", ["-c", NUMPY_LOAD, path])
          : await run(Deno.execPath(), ["run", "-A", self, "--measure", method, path]);
        const r = JSON.parse(line) as { seconds: number; mb: number; peakRssMb: number };
        console.log(
          `  ${method.padEnd(14)} ${(r.mb / r.seconds).toFixed(0).padStart(6)} MB/s  ` +
            `${r.seconds.toFixed(2)} s  peak RSS ${r.peakRssMb.toFixed(0)} MB ` +
            `(array data ${r.mb.toFixed(0)} MB)`,
        );
      }
    }
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

if (import.meta.main) {
  const args = Deno.args;
  const flag = (name: string, fallback: string) => {
    const i = args.indexOf(name);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
  };
  if (args[0] === "--measure") await measureOne(args[1], args[2]);
  else if (args.includes("--big")) await big(flag("--dir", "/tmp"), Number(flag("--mb", "1024")));
  else {console.log(
      "usage: deno bench -A bench/npz_bench.ts | deno run -A bench/npz_bench.ts --big",
    );}
}
