/**
 * The runtime of the CPU kernels: one WebAssembly memory (shared when threads can run), the
 * module of `_cpu_programs.ts` instantiated on this thread and in a pool of Web Workers, a
 * first-fit allocator over the memory, and `parallel(job, items)`, which runs a job's items
 * on every live thread and returns when all are done.
 *
 * Threads claim items one by one from a shared counter, so a slow or busy thread takes
 * fewer; an item's result does not depend on who runs it. Workers start in the background
 * and leave after {@link IDLE_MS} without work (so a process is never kept alive by them);
 * until they are back, this thread runs every item itself. The worker script is a string:
 * it needs no file, bundler or permission, in Deno and in a browser alike.
 *
 * @module
 */
import { buildCpuModule } from "./_cpu_programs.ts";

/** How long an idle worker waits for work before it leaves (ms). */
export const IDLE_MS = 3000;

// Control words (Int32Array over a SharedArrayBuffer).
const SEQ = 0, CLAIM = 1, TOTAL = 2, DONE = 3, JOB = 4, ERROR = 5, STATE = 8;
const QUIT = -1;
const MAX_WORKERS = 56;

const WORKER_SOURCE = `
const SEQ = ${SEQ}, CLAIM = ${CLAIM}, TOTAL = ${TOTAL}, DONE = ${DONE}, JOB = ${JOB};
const ERROR = ${ERROR}, STATE = ${STATE}, QUIT = ${QUIT};
self.onmessage = async (e) => {
  const { module, memory, control, index, idleMs } = e.data;
  const ctl = new Int32Array(control);
  const run = (await WebAssembly.instantiate(module, { env: { memory } })).exports.run;
  Atomics.store(ctl, STATE + index, 1);
  postMessage("ready");
  let seq = Atomics.load(ctl, SEQ);
  for (;;) {
    let spins = 0;
    while (Atomics.load(ctl, SEQ) === seq && spins < 2000) spins++;
    if (Atomics.load(ctl, SEQ) === seq &&
        Atomics.wait(ctl, SEQ, seq, idleMs) === "timed-out" &&
        Atomics.compareExchange(ctl, STATE + index, 1, 0) === 1) {
      self.close();
      return;
    }
    seq = Atomics.load(ctl, SEQ);
    if (seq === QUIT) { Atomics.store(ctl, STATE + index, 0); self.close(); return; }
    for (;;) {
      const v = Atomics.load(ctl, CLAIM);
      if ((v >>> 16) !== seq) break;
      const item = v & 0xffff;
      const total = Atomics.load(ctl, TOTAL);
      if (item >= total) break;
      if (Atomics.compareExchange(ctl, CLAIM, v, v + 1) !== v) continue;
      try {
        run(Atomics.load(ctl, JOB), item);
      } catch (err) {
        Atomics.store(ctl, ERROR, 1);
        console.error("CPU kernel worker failed:", err);
      }
      if (Atomics.add(ctl, DONE, 1) + 1 === total) Atomics.notify(ctl, DONE);
    }
  }
};
`;

/** A region of the runtime's memory: byte offset and size. */
export interface Region {
  readonly ptr: number;
  readonly bytes: number;
}

const PAGE = 65536;

// Probes: (v128, v128) -> v128 with f32x4.mul (SIMD) / f32x4.relaxed_madd (relaxed SIMD).
// Small on purpose: a bug in the generated module must throw where it is built, not read as
// "this engine lacks SIMD" here.
const probe = (op: number[], params: number) =>
  new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...[0x01, 5 + params, 0x01, 0x60, params, ...new Array(params).fill(0x7b), 0x01, 0x7b],
    ...[0x03, 0x02, 0x01, 0x00],
    ...[0x0a, 4 + 2 * params + op.length, 0x01, 2 + 2 * params + op.length, 0x00],
    ...Array.from({ length: params }, (_, i) => [0x20, i]).flat(),
    ...op,
    0x0b,
  ]);

/** True when this JS engine has WebAssembly 128-bit SIMD (required by the CPU kernels). */
export function wasmSimdAvailable(): boolean {
  try {
    return WebAssembly.validate(probe([0xfd, 0xe6, 0x01], 2)); // f32x4.mul
  } catch {
    return false;
  }
}

function relaxedSimdAvailable(): boolean {
  try {
    return WebAssembly.validate(probe([0xfd, 0x85, 0x02], 3)); // f32x4.relaxed_madd
  } catch {
    return false;
  }
}

/** Whether shared memory and Workers exist here (cross-origin isolation in a browser). */
export function threadsAvailable(): boolean {
  const g = globalThis as { crossOriginIsolated?: boolean };
  return typeof SharedArrayBuffer === "function" && typeof Worker === "function" &&
    typeof Atomics === "object" && g.crossOriginIsolated !== false;
}

// Deno's main thread may block in Atomics.wait; a browser page's may not (it spins).
function mainThreadCanBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

/** The runtime; one per JS realm (see `cpu_kernels.ts`). */
export class CpuRuntime {
  readonly memory: WebAssembly.Memory;
  readonly fma: boolean;
  readonly shared: boolean;
  readonly #module: WebAssembly.Module;
  readonly #run: (job: number, item: number) => void;
  readonly #ctl: Int32Array;
  readonly #canBlock: boolean;
  readonly #workers: (Worker | null | undefined)[] = [];
  #helpers: number;
  readonly #starting = new Map<number, Promise<void>>();
  #seq = 0;
  #free: Region[] = [];
  #closed = false;
  /** 4 KiB where job descriptors are written (jobs run one batch at a time). */
  readonly jobArea: Region;

  /** `threads`: this thread plus up to `threads - 1` workers (1 = no workers). */
  constructor(threads: number) {
    this.fma = relaxedSimdAvailable();
    this.shared = threads > 1 && threadsAvailable();
    const maxPages = 32768; // 2 GiB of address space, committed only as used
    const pages = 64;
    this.#module = new WebAssembly.Module(
      buildCpuModule({ fma: this.fma, shared: this.shared, pages, maxPages }),
    );
    this.memory = new WebAssembly.Memory({
      initial: pages,
      maximum: maxPages,
      shared: this.shared,
    });
    const instance = new WebAssembly.Instance(this.#module, { env: { memory: this.memory } });
    this.#run = instance.exports.run as (job: number, item: number) => void;
    this.#ctl = new Int32Array(
      this.shared ? new SharedArrayBuffer(4 * (STATE + MAX_WORKERS)) : new ArrayBuffer(64),
    );
    this.#canBlock = this.shared && mainThreadCanBlock();
    this.#helpers = this.shared ? Math.min(threads - 1, MAX_WORKERS) : 0;
    // Offset 0 stays unused (a null pointer would read real data otherwise).
    this.#free = [{ ptr: 64, bytes: pages * PAGE - 64 }];
    this.jobArea = this.alloc(4096);
  }

  /** Threads that run items now: this one plus the live workers. */
  get liveThreads(): number {
    let n = 1;
    for (let i = 0; i < this.#workers.length; i++) {
      if (Atomics.load(this.#ctl, STATE + i) === 1) n++;
    }
    return n;
  }

  /** Threads asked for. */
  get threads(): number {
    return 1 + this.#helpers;
  }

  /** Starts workers until `threads - 1` are live or starting; resolves when they are live. */
  ensureWorkers(): Promise<void> {
    if (this.#closed || this.#helpers === 0) return Promise.resolve();
    for (let i = 0; i < this.#helpers; i++) {
      // Slot i: undefined (never started, or failed), null (starting), or a Worker that is
      // live (state 1) or has left after idling (state 0).
      if (this.#workers[i] === null || Atomics.load(this.#ctl, STATE + i) === 1) continue;
      this.#workers[i]?.terminate();
      this.#starting.set(i, this.#spawn(i));
    }
    return Promise.all(this.#starting.values()).then(() => {});
  }

  #spawn(index: number): Promise<void> {
    this.#workers[index] = null;
    const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
    const worker = new Worker(url, { type: "module" });
    return new Promise<void>((resolve) => {
      const done = (started: Worker | undefined) => {
        URL.revokeObjectURL(url);
        this.#workers[index] = started;
        this.#starting.delete(index);
        resolve();
      };
      worker.onmessage = () => done(worker);
      worker.onerror = (e) => {
        e.preventDefault();
        console.error(`CPU kernel worker ${index} failed to start: ${e.message}`);
        worker.terminate();
        done(undefined);
      };
      worker.postMessage({
        module: this.#module,
        memory: this.memory,
        control: this.#ctl.buffer,
        index,
        idleMs: IDLE_MS,
      });
    });
  }

  /** Allocates `bytes` (64-byte aligned, contents undefined), growing the memory if needed. */
  alloc(bytes: number): Region {
    const size = Math.max(64, Math.ceil(bytes / 64) * 64);
    for (let i = 0; i < this.#free.length; i++) {
      const f = this.#free[i];
      if (f.bytes >= size) {
        const region = { ptr: f.ptr, bytes: size };
        if (f.bytes === size) this.#free.splice(i, 1);
        else this.#free[i] = { ptr: f.ptr + size, bytes: f.bytes - size };
        return region;
      }
    }
    const oldBytes = this.memory.buffer.byteLength;
    const last = this.#free[this.#free.length - 1];
    const tailFree = last && last.ptr + last.bytes === oldBytes ? last.bytes : 0;
    const need = size - tailFree;
    const pages = Math.max(Math.ceil(need / PAGE), Math.ceil(oldBytes / PAGE / 4));
    try {
      this.memory.grow(pages);
    } catch (cause) {
      throw new RangeError(
        `Cannot allocate ${(size / 2 ** 20).toFixed(1)} MiB for the CPU kernels: the memory ` +
          `(${(oldBytes / 2 ** 20).toFixed(0)} MiB) cannot grow further`,
        { cause },
      );
    }
    this.free({ ptr: oldBytes, bytes: pages * PAGE });
    return this.alloc(bytes);
  }

  /** Returns a region to the allocator. */
  free(region: Region): void {
    const list = this.#free;
    let i = 0;
    while (i < list.length && list[i].ptr < region.ptr) i++;
    list.splice(i, 0, { ptr: region.ptr, bytes: region.bytes });
    // Merge with the next, then with the previous block.
    if (i + 1 < list.length && list[i].ptr + list[i].bytes === list[i + 1].ptr) {
      list[i] = { ptr: list[i].ptr, bytes: list[i].bytes + list[i + 1].bytes };
      list.splice(i + 1, 1);
    }
    if (i > 0 && list[i - 1].ptr + list[i - 1].bytes === list[i].ptr) {
      list[i - 1] = { ptr: list[i - 1].ptr, bytes: list[i - 1].bytes + list[i].bytes };
      list.splice(i, 1);
    }
  }

  /** Bytes in use (allocated and not freed), the job area included. */
  get bytesInUse(): number {
    return this.memory.buffer.byteLength - 64 - this.#free.reduce((s, f) => s + f.bytes, 0);
  }

  /** Float32 view of a region (valid until the memory grows). */
  f32(region: Region, count = region.bytes / 4): Float32Array {
    return new Float32Array(this.memory.buffer, region.ptr, count);
  }

  /** Int32 view of a region (valid until the memory grows). */
  i32(region: Region, count = region.bytes / 4): Int32Array {
    return new Int32Array(this.memory.buffer, region.ptr, count);
  }

  /** Runs items [0, total) of the job at `job` on every live thread; returns when done. */
  parallel(job: number, total: number): void {
    if (total <= 0) return;
    if (total >= 0x10000) {
      throw new RangeError(`Cannot run a CPU kernel job of ${total} items: at most 65535`);
    }
    const live = this.#helpers > 0 ? this.liveThreads : 1;
    if (live < this.threads && this.#starting.size === 0 && !this.#closed) {
      void this.ensureWorkers();
    }
    if (live === 1 || total === 1) {
      for (let i = 0; i < total; i++) this.#run(job, i);
      return;
    }
    const ctl = this.#ctl;
    this.#seq = this.#seq >= 0x7fff ? 1 : this.#seq + 1;
    const seq = this.#seq;
    Atomics.store(ctl, TOTAL, total);
    Atomics.store(ctl, DONE, 0);
    Atomics.store(ctl, JOB, job);
    Atomics.store(ctl, ERROR, 0);
    Atomics.store(ctl, CLAIM, seq << 16);
    Atomics.store(ctl, SEQ, seq);
    Atomics.notify(ctl, SEQ);
    let failure: unknown = null;
    for (;;) {
      const v = Atomics.load(ctl, CLAIM);
      const item = v & 0xffff;
      if (item >= total) break;
      if (Atomics.compareExchange(ctl, CLAIM, v, v + 1) !== v) continue;
      try {
        this.#run(job, item);
      } catch (e) {
        failure ??= e;
      }
      Atomics.add(ctl, DONE, 1);
    }
    for (;;) {
      const done = Atomics.load(ctl, DONE);
      if (done >= total) break;
      if (this.#canBlock) Atomics.wait(ctl, DONE, done, 50);
    }
    if (failure !== null) throw failure;
    if (Atomics.load(ctl, ERROR) !== 0) {
      throw new Error("Cannot run a CPU kernel job: a worker failed (see its error above)");
    }
  }

  /** Stops the workers; the runtime keeps working on this thread alone. */
  close(): void {
    this.#closed = true;
    if (this.#helpers === 0) return;
    Atomics.store(this.#ctl, SEQ, QUIT);
    Atomics.notify(this.#ctl, SEQ);
    for (const w of this.#workers) w?.terminate();
    this.#workers.length = 0;
    this.#helpers = 0;
  }
}
