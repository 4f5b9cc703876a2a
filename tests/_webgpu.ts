/**
 * WebGPU test scaffolding: WebGPU code runs on the main thread of a child `deno run`
 * process, never in the `deno test` process itself.
 *
 * Why: `deno test` runs every test module on a worker thread. A thread that used WebGPU
 * has an EGL thread state in libglvnd's libEGL; when those threads exit while the process
 * exits (they do, right after the summary), libEGL's exit-time destructor and the threads'
 * own destructors free the same state twice and glibc aborts the process (exit 134) after a
 * green run. See docs/testing.md ("WebGPU tests run in child processes").
 *
 * - {@link useWebGpuOrSkip}: the adapter, or null with a loud skip warning.
 * - {@link webGpuTest}: a `Deno.test` whose body runs in the child process; its steps, its
 *   output and its failure (or a crash of the child, even at exit) come back to the report.
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import assert from "#assert";
import { probeWebGpuAdapter } from "../src/runtime/mod.ts";

/** What `probeWebGpuAdapter()` reports about a usable adapter. */
export type WebGpuTestAdapter = NonNullable<Awaited<ReturnType<typeof probeWebGpuAdapter>>>;

/** The entry point of the child process (`tests/_webgpu_child.ts`). */
const CHILD_ENTRY = new URL("./_webgpu_child.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

/** One step as the child saw it; `error` is null when it passed. */
interface StepReport {
  readonly name: string;
  readonly ignored: boolean;
  error: string | null;
  readonly steps: StepReport[];
}

/** What the child writes for the parent: the test's own error and its steps. */
interface ChildReport {
  error: string | null;
  readonly steps: StepReport[];
}

/** Set only in the child: the tests the imported module registered with webGpuTest(). */
let childRegistry: Map<string, Deno.TestDefinition> | null = null;

/**
 * The WebGPU adapter as a child process sees it (null when there is none), without a skip
 * warning: for tests whose expectations differ with and without an adapter.
 */
export function probeAdapterSafely(): Promise<WebGpuTestAdapter | null> {
  return childRegistry ? probeWebGpuAdapter() : probeInChild();
}

/**
 * Probes the WebGPU adapter. Without one, warns loudly that `what` is skipped and returns
 * null. In the child process it also makes "webgpu" the active TensorFlow.js backend; in
 * the test process it asks a child process, so that no test worker thread touches WebGPU.
 */
export async function useWebGpuOrSkip(what: string): Promise<WebGpuTestAdapter | null> {
  const adapter = childRegistry ? await probeWebGpuAdapter() : await probeInChild();
  if (!adapter) {
    console.warn(`\n*** SKIPPING ${what}: no WebGPU adapter in this runtime ***\n`);
    return null;
  }
  if (childRegistry) {
    await tf.setBackend("webgpu");
    await tf.ready();
    assert.equal(tf.getBackend(), "webgpu");
  }
  return adapter;
}

/**
 * Registers a test whose body runs on the main thread of a child `deno run` process.
 * Pass the test module's `import.meta.url`: the child imports that module, which registers
 * its tests again, and runs the one with this name. Steps (`t.step`) are reported back as
 * steps of the same names; the child's output is printed with the test's output.
 *
 * @example
 * ```ts
 * const adapter = await useWebGpuOrSkip("WebGPU matmul tests");
 * webGpuTest(import.meta.url, { name: "matMulWebGpu() ...", ignore: !adapter, fn() {} });
 * ```
 */
export function webGpuTest(moduleUrl: string, definition: Deno.TestDefinition): void {
  if (childRegistry) {
    if (childRegistry.has(definition.name)) {
      throw new Error(`Cannot register WebGPU test "${definition.name}" twice in ${moduleUrl}`);
    }
    childRegistry.set(definition.name, definition);
    return;
  }
  Deno.test({ ...definition, fn: (t) => runInChild(t, moduleUrl, definition.name) });
}

/** The child process: `probe`, or `<module-url> <test-name> <report.json>`; the exit code. */
export async function runChild(args: readonly string[]): Promise<number> {
  if (args.length === 1 && args[0] === "probe") {
    console.log(JSON.stringify(await probeWebGpuAdapter()));
    return 0;
  }
  if (args.length !== 3) {
    throw new TypeError(
      `Cannot run a WebGPU test child: expected "probe" or <module-url> <test-name> ` +
        `<report.json>, got ${JSON.stringify(args)}`,
    );
  }
  const [moduleUrl, name, reportPath] = args;
  childRegistry = new Map();
  const report: ChildReport = { error: null, steps: [] };
  try {
    await import(moduleUrl);
    const definition = childRegistry.get(name);
    if (!definition) {
      throw new Error(
        `Cannot find WebGPU test "${name}" in ${moduleUrl}: it registers ` +
          `${JSON.stringify([...childRegistry.keys()])}`,
      );
    }
    await definition.fn(new ChildContext(name, moduleUrl, report.steps).asTestContext());
  } catch (e) {
    report.error = describe(e);
  }
  await Deno.writeTextFile(reportPath, JSON.stringify(report));
  return report.error === null && report.steps.every(passed) ? 0 : 1;
}

function passed(step: StepReport): boolean {
  return step.ignored || (step.error === null && step.steps.every(passed));
}

function describe(e: unknown): string {
  return e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e);
}

type StepFn = (t: Deno.TestContext) => void | Promise<void>;

/** The parts of `Deno.TestContext` the child offers: name, origin, parent and step(). */
class ChildContext {
  constructor(
    readonly name: string,
    readonly origin: string,
    private readonly steps: StepReport[],
    readonly parent?: ChildContext,
  ) {}

  /** This context typed as Deno's; members it does not offer (assertSnapshot) are absent. */
  asTestContext(): Deno.TestContext {
    return this as unknown as Deno.TestContext;
  }

  async step(
    nameOrDefinition: string | Deno.TestStepDefinition | StepFn,
    maybeFn?: StepFn,
  ): Promise<boolean> {
    const definition: Deno.TestStepDefinition = typeof nameOrDefinition === "string"
      ? { name: nameOrDefinition, fn: maybeFn! }
      : typeof nameOrDefinition === "function"
      ? { name: nameOrDefinition.name, fn: nameOrDefinition }
      : nameOrDefinition;
    const step: StepReport = {
      name: definition.name,
      ignored: Boolean(definition.ignore),
      error: null,
      steps: [],
    };
    this.steps.push(step);
    if (step.ignored) return false;
    try {
      await definition.fn(
        new ChildContext(definition.name, this.origin, step.steps, this).asTestContext(),
      );
    } catch (e) {
      step.error = describe(e);
    }
    return passed(step);
  }
}

/** Asks a child process for the adapter (the test process itself never touches WebGPU). */
async function probeInChild(): Promise<WebGpuTestAdapter | null> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", CONFIG, CHILD_ENTRY, "probe"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) {
    throw new Error(
      `Cannot probe the WebGPU adapter in a child process: exit code ${out.code}` +
        `${out.signal ? ` (${out.signal})` : ""}\n${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return JSON.parse(text.split("\n").at(-1)!) as WebGpuTestAdapter | null;
}

/** Runs test `name` of `moduleUrl` in a child process and reports it through `t`. */
async function runInChild(t: Deno.TestContext, moduleUrl: string, name: string): Promise<void> {
  const reportPath = await Deno.makeTempFile({ prefix: "webgpu-test-", suffix: ".json" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", CONFIG, CHILD_ENTRY, moduleUrl, name, reportPath],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    const output = (dec.decode(out.stdout) + dec.decode(out.stderr)).trimEnd();
    if (output) console.log(output);
    const text = await Deno.readTextFile(reportPath);
    const exit = `exit code ${out.code}${out.signal ? ` (${out.signal})` : ""}`;
    if (text === "") {
      throw new Error(
        `Cannot run WebGPU test "${name}" in a child process: it ended with ${exit} ` +
          "before reporting (its output is above)",
      );
    }
    const report = JSON.parse(text) as ChildReport;
    await replay(t, report.steps);
    if (report.error !== null) throw new Error(`in the WebGPU child process: ${report.error}`);
    if (report.steps.every(passed) && !out.success) {
      throw new Error(
        `WebGPU test "${name}" passed in its child process, but the child ended with ${exit}`,
      );
    }
  } finally {
    await Deno.remove(reportPath).catch(() => {});
  }
}

/** Re-creates the child's steps (and their failures) as steps of `t`. */
async function replay(t: Deno.TestContext, steps: readonly StepReport[]): Promise<void> {
  for (const step of steps) {
    if (step.ignored) {
      await t.step({ name: step.name, ignore: true, fn() {} });
      continue;
    }
    await t.step(step.name, async (inner) => {
      await replay(inner, step.steps);
      if (step.error !== null) throw new Error(`in the WebGPU child process: ${step.error}`);
    });
  }
}
