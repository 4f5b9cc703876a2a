import assert from "#assert";
import { parseRunsArgs, RUNS_HELP } from "../../cli/runs.ts";

Deno.test("parseRunsArgs() takes --compare with exactly two runs", async (t) => {
  await t.step("two runs", () => {
    assert.deepEqual(parseRunsArgs(["--compare", "a", "b"]).compare, ["a", "b"]);
  });
  await t.step("one run is an error", () => {
    assert.throws(() => parseRunsArgs(["--compare", "a"]), {
      name: "TypeError",
      message: "Cannot parse --compare: expected two runs (ids or names), received 1",
    });
  });
  await t.step("a stray positional without --compare is an error", () => {
    assert.throws(() => parseRunsArgs(["a"]), {
      name: "TypeError",
      message: 'Cannot parse runs arguments: unexpected "a"; did you mean --compare <A> <B>?',
    });
  });
  await t.step("an unknown flag names the allowed ones", () => {
    assert.throws(() => parseRunsArgs(["--sort", "cost"]), {
      name: "TypeError",
      message: /^Cannot parse runs flags: .*--sort.*Allowed flags: --experiment, --compare, --json/,
    });
  });
});

Deno.test("parseRunsArgs() reads the experiment from MLFLOW_EXPERIMENT_NAME", () => {
  assert.equal(parseRunsArgs([], { MLFLOW_EXPERIMENT_NAME: "exp-x" }).experiment, "exp-x");
  assert.equal(
    parseRunsArgs(["--experiment", "e"], { MLFLOW_EXPERIMENT_NAME: "x" }).experiment,
    "e",
  );
  assert.equal(parseRunsArgs([]).experiment, "component-x-lstm");
});

Deno.test("runs --help documents every flag", () => {
  for (
    const f of [
      "--experiment",
      "--compare",
      "--json",
      "--model",
      "--alias",
      "--mlflow-tracking-uri",
    ]
  ) assert.ok(RUNS_HELP.includes(f), f);
});
