/**
 * Fixtures for tests/npz: numpy writes them into a temp dir (tests/npz/make_fixtures.py)
 * and describes the expected values in a manifest; helpers compare arrays exactly.
 */
import assert from "#assert";
import { runPython } from "../_python.ts";
import { type NpyArray, NpzFormatError } from "../../src/npz/mod.ts";

/** Expected array as numpy describes it: values are repr(float) / str(int), C order. */
export interface ExpectedArray {
  dtype: string;
  shape: number[];
  values: string[];
}

/** The manifest printed by make_fixtures.py. */
export type Manifest = Record<string, Record<string, ExpectedArray>> & {
  _a_b_c_header_offset: number;
};

/** Runs make_fixtures.py into a fresh temp dir; returns the dir and the manifest. */
export async function makeFixtures(): Promise<{ dir: string; manifest: Manifest }> {
  const dir = await Deno.makeTempDir({ prefix: "npz_fixtures_" });
  const script = await Deno.readTextFile(new URL("./make_fixtures.py", import.meta.url));
  // removed when the test module's process ends
  globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
  const manifest = JSON.parse(await runPython(script, { args: [dir] })) as Manifest;
  return { dir, manifest };
}

function parseFloatRepr(s: string): number {
  if (s === "inf") return Infinity;
  if (s === "-inf") return -Infinity;
  if (s === "nan") return NaN;
  return Number(s);
}

/** Asserts dtype, shape and every value equal numpy's (NaN positions and -0 included). */
export function assertArrayMatches(actual: NpyArray, expected: ExpectedArray, label: string) {
  assert.equal(actual.dtype, expected.dtype, `${label}: dtype`);
  assert.deepEqual(actual.shape, expected.shape, `${label}: shape`);
  assert.equal(actual.data.length, expected.values.length, `${label}: length`);
  const isFloat = expected.dtype.startsWith("float");
  for (let i = 0; i < expected.values.length; i++) {
    const a = actual.data[i];
    const e = expected.values[i];
    if (isFloat) {
      const want = parseFloatRepr(e);
      assert.ok(Object.is(a, want), `${label}[${i}]: expected ${e}, received ${a}`);
    } else {
      assert.equal(String(a), e, `${label}[${i}]`);
    }
  }
}

function checkNpzError(caught: unknown, member: string, re: RegExp): NpzFormatError {
  assert.ok(caught instanceof NpzFormatError, `expected NpzFormatError, received ${caught}`);
  const e = caught as NpzFormatError;
  assert.equal(e.name, "NpzFormatError");
  assert.equal(e.member, member);
  assert.match(e.message, /^Cannot read /);
  assert.match(e.message, re);
  return e;
}

/** Asserts `fn` throws NpzFormatError naming `member`, with a message matching `re`. */
export function assertNpzError(fn: () => unknown, member: string, re: RegExp): NpzFormatError {
  try {
    fn();
  } catch (e) {
    return checkNpzError(e, member, re);
  }
  throw new assert.AssertionError({ message: "expected NpzFormatError, nothing was thrown" });
}

/** Async {@linkcode assertNpzError}. */
export async function assertNpzErrorAsync(
  fn: () => Promise<unknown>,
  member: string,
  re: RegExp,
): Promise<NpzFormatError> {
  try {
    await fn();
  } catch (e) {
    return checkNpzError(e, member, re);
  }
  throw new assert.AssertionError({ message: "expected NpzFormatError, nothing was thrown" });
}
