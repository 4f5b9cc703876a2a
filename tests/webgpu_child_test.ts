import assert from "#assert";

// The fixtures live in tests/fixtures/ (excluded from `deno task test`); each is run by a
// real `deno test`, as the suite runs them, and its report is checked.
const ROOT = new URL("../", import.meta.url).pathname;
const FIXTURES = "tests/fixtures/webgpu_child";

async function denoTest(file: string, preload: boolean) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "test",
      "-A",
      // --no-config: the config's test.exclude would skip the fixture.
      "--no-config",
      "--import-map",
      "import_map.json",
      ...(preload ? ["--preload", "tests/_preload.ts"] : []),
      `${FIXTURES}/${file}`,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, text: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

Deno.test("webGpuTest() reports a child's steps, failures and aborts (even at exit) as results", async () => {
  const { code, text } = await denoTest("cases.ts", true);
  assert.equal(code, 1, text);
  assert.match(text, /^passes with steps \.\.\. ok/m);
  assert.match(text, /^ {4}nested \.\.\. ok/m);
  assert.match(text, /^ {2}good step \.\.\. ok/m);
  assert.match(text, /^ {2}bad step \.\.\. FAILED/m);
  assert.match(text, /in the WebGPU child process: AssertionError.*one plus one in the child/);
  assert.match(
    text,
    /in the WebGPU child process: RangeError: Cannot continue: thrown in the child/,
  );
  assert.match(
    text,
    /Cannot run WebGPU test "aborts before reporting" in a child process: it ended with exit code 134 \(SIGABRT\) before reporting/,
  );
  assert.match(
    text,
    /WebGPU test "aborts at exit after passing" passed in its child process, but the child ended with exit code 134 \(SIGABRT\)/,
  );
  assert.match(text, /FAILED \| 1 passed \(4 steps\) \| 4 failed \(1 step\)/);
});

Deno.test("tests/_preload.ts fails a run that asks for a WebGPU adapter in the test process", async () => {
  const { code, text } = await denoTest("in_test_process.ts", true);
  assert.equal(code, 1, text);
  assert.match(
    text,
    /Cannot use WebGPU in the deno test process: navigator\.gpu\.requestAdapter\(\) was called on a test worker thread/,
  );
});
