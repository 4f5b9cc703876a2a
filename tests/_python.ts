/**
 * Test helpers for running python3 references (numpy, scikit-learn, mlflow).
 * A test that needs a missing module is skipped loudly, never silently passed.
 */

const available = new Map<string, boolean>();

/** True when `python3 -c "import <module>"` succeeds. Cached per module. */
export async function hasPythonModule(module: string): Promise<boolean> {
  const known = available.get(module);
  if (known !== undefined) return known;
  let ok = false;
  try {
    const { success } = await new Deno.Command("python3", {
      args: ["-c", `import ${module}`],
      stdout: "null",
      stderr: "null",
    }).output();
    ok = success;
  } catch {
    ok = false;
  }
  available.set(module, ok);
  return ok;
}

/**
 * Returns the `ignore` value for Deno.test and warns loudly when modules are missing.
 *
 * @example
 * ```ts
 * const ignore = await skipUnlessPython("numpy", "scikit-learn reference");
 * Deno.test({ name: "...", ignore, fn() {} });
 * ```
 */
export async function skipUnlessPython(...modules: string[]): Promise<boolean> {
  const missing: string[] = [];
  for (const m of modules) if (!(await hasPythonModule(m))) missing.push(m);
  if (missing.length > 0) {
    console.warn(
      `\n*** SKIPPING: python3 module(s) ${missing.join(", ")} not installed. ` +
        `Run .ci/run (or pip install numpy scikit-learn mlflow) so these tests run. ***\n`,
    );
    return true;
  }
  return false;
}

/** Runs a python3 script, feeding `stdin`; throws with stderr when it fails. */
export async function runPython(
  script: string,
  options: {
    args?: string[];
    stdin?: Uint8Array | string;
    cwd?: string;
    env?: Record<string, string>;
  } = {},
): Promise<string> {
  const child = new Deno.Command("python3", {
    args: ["-c", script, ...(options.args ?? [])],
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    cwd: options.cwd,
    env: options.env,
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(
      typeof options.stdin === "string" ? new TextEncoder().encode(options.stdin) : options.stdin,
    );
    await writer.close();
  }
  const { success, stdout, stderr } = await child.output();
  const err = new TextDecoder().decode(stderr);
  if (!success) throw new Error(`python3 failed:\n${err}`);
  return new TextDecoder().decode(stdout);
}

/** Runs a python3 script and parses its stdout as JSON. */
export async function pythonJson<T = unknown>(
  script: string,
  options: Parameters<typeof runPython>[1] = {},
): Promise<T> {
  return JSON.parse(await runPython(script, options)) as T;
}
