/**
 * Test helpers for running real PyTorch (the CPU build is enough). `.ci/run` installs torch
 * in a venv and exports its interpreter as `TORCH_PYTHON`; without it the default venv
 * (`$HOME/.cache/component-x-torch`) or `python3` are tried. A test that needs torch and
 * finds none is skipped loudly, never silently passed.
 */

let found: Promise<string | null> | undefined;

async function imports(python: string, module: string): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(python, {
      args: ["-c", `import ${module}`],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/** The first interpreter that imports torch and numpy, or null. Cached. */
export function torchPython(): Promise<string | null> {
  found ??= (async () => {
    const home = Deno.env.get("HOME");
    const candidates = [
      Deno.env.get("TORCH_PYTHON"),
      home && `${home}/.cache/component-x-torch/bin/python`,
      "python3",
    ].filter((p): p is string => !!p);
    for (const python of candidates) {
      if (await imports(python, "torch, numpy")) return python;
    }
    return null;
  })();
  return found;
}

/**
 * Returns the `ignore` value for Deno.test and warns loudly when torch is missing.
 *
 * @example
 * ```ts
 * const ignore = await skipUnlessTorch("reading torch.save files");
 * Deno.test({ name: "...", ignore, fn() {} });
 * ```
 */
export async function skipUnlessTorch(what: string): Promise<boolean> {
  if (await torchPython()) return false;
  console.warn(
    `\n*** SKIPPING ${what}: no python with torch found (TORCH_PYTHON, ` +
      "$HOME/.cache/component-x-torch/bin/python, python3). Run .ci/run, or " +
      "python3 -m venv ~/.cache/component-x-torch && ~/.cache/component-x-torch/bin/pip " +
      "install torch numpy, so these tests run. ***\n",
  );
  return true;
}

/** `tests/torch/pipeline.py`: the PyTorch pipeline's model, fixtures and checks. */
export const PIPELINE_PY = new URL("./torch/pipeline.py", import.meta.url).pathname;

/**
 * Runs `tests/torch/pipeline.py <command> [args]` with torch's python, `input` as JSON on
 * stdin, and parses its stdout as JSON; throws with stderr when it fails.
 */
export async function runPipeline<T = unknown>(
  command: string,
  args: readonly string[] = [],
  input: unknown = {},
  env: Record<string, string> = {},
): Promise<T> {
  const python = await torchPython();
  if (!python) throw new Error("Cannot run tests/torch/pipeline.py: no python with torch");
  const child = new Deno.Command(python, {
    args: [PIPELINE_PY, command, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env,
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(input)));
  await writer.close();
  const { success, stdout, stderr } = await child.output();
  if (!success) {
    throw new Error(`pipeline.py ${command} failed:\n${new TextDecoder().decode(stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(stdout)) as T;
}
