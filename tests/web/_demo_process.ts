/**
 * Test helper: `deno task demo` (cli/demo.ts) as a real child process, with its own TMPDIR so
 * that a test can see the temporary bundle folders it creates and whether they are removed.
 */

const ROOT = new URL("../../", import.meta.url).pathname;

/** A running `cli/demo.ts`. */
export interface DemoProcess {
  readonly child: Deno.ChildProcess;
  /** The printed page URL, with its `?token=`. */
  readonly url: string;
  readonly token: string;
  readonly port: number;
  /** Everything printed so far on stdout and stderr. */
  output(): string;
  /** VmRSS and VmHWM (peak) of the process, in MiB, from /proc/<pid>/status. */
  memory(): { rssMiB: number; peakMiB: number };
  /** Sends `signal`, waits for the exit; returns its status and the whole output. */
  stop(signal?: Deno.Signal): Promise<{ code: number; output: string }>;
}

/** Spawns `deno run -A cli/demo.ts ...args`; collects its output. */
export function spawnDemo(
  args: string[],
  options: { tmpDir: string; env?: Record<string, string> },
): { child: Deno.ChildProcess; output: () => string; exited: Promise<Deno.CommandStatus> } {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}cli/demo.ts`, ...args],
    env: { TMPDIR: options.tmpDir, NO_COLOR: "1", ...options.env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const collect = (stream: ReadableStream<Uint8Array<ArrayBuffer>>) =>
    stream.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (chunk) => void (text += chunk) }),
    );
  const drained = Promise.all([collect(child.stdout), collect(child.stderr)]);
  const exited = child.status.then(async (status) => {
    await drained;
    return status;
  });
  return { child, output: () => text, exited };
}

/** The `demo-bundle-*` folders under `dir`. */
export function bundleDirs(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.startsWith("demo-bundle-"));
}

/** Starts the demo and waits (at most `timeoutMs`) until it prints its URL. */
export async function startDemoProcess(
  args: string[],
  options: { tmpDir: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<DemoProcess> {
  const { child, output, exited } = spawnDemo(["--port", "0", ...args], options);
  const deadline = Date.now() + (options.timeoutMs ?? 180_000);
  let match: RegExpExecArray | null = null;
  let done = false;
  exited.then(() => done = true);
  while ((match = /Component X demo: (\S+)/.exec(output())) === null) {
    if (done || Date.now() > deadline) {
      if (!done) child.kill("SIGKILL");
      await exited;
      throw new Error(`cli/demo.ts printed no URL:\n${output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = match[1];
  return {
    child,
    url,
    token: new URL(url).searchParams.get("token") ?? "",
    port: Number(new URL(url).port),
    output,
    memory() {
      const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
      const kib = (key: string) =>
        Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)![1]);
      return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
    },
    async stop(signal: Deno.Signal = "SIGINT") {
      if (!done) {
        try {
          child.kill(signal);
        } catch { /* already gone */ }
      }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, 20_000);
      const status = await exited;
      clearTimeout(timer);
      return { code: status.code, output: output() };
    },
  };
}
