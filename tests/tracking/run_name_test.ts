import assert from "#assert";
import { pythonJson, skipUnlessPython } from "../_python.ts";
import { dumpYaml, parseYaml } from "../../src/tracking/_yaml.ts";
import { nextRunName, runNamePrefix } from "../../src/tracking/run_name.ts";

Deno.test("nextRunName() continues the highest run number of the same prefix", async (t) => {
  const cases: [string, string[], string][] = [
    ["v1-l128-tag", [], "v1-l128-tag-run1"],
    [
      "v1-l128-tag",
      ["v1-l128-tag-run2", "v1-l128-tag-run7", "v1-l128-tag-run10"],
      "v1-l128-tag-run11",
    ],
    [
      "v1-l128-tag",
      ["v1-l128-tag-x-run9", "v2-l128-tag-run5", "v1-l128-tag-run"],
      "v1-l128-tag-run1",
    ],
    ["a.b-l64", ["aXb-l64-run4", "a.b-l64-run2"], "a.b-l64-run3"],
  ];
  for (const [prefix, names, expected] of cases) {
    await t.step(`${prefix} after [${names.join(", ")}]`, () => {
      assert.equal(nextRunName(prefix, names), expected);
    });
  }
});

Deno.test("runNamePrefix() leaves out empty parts and rejects a bad window", () => {
  assert.equal(
    runNamePrefix("val2025w48", 128, "biLSTM-baseline"),
    "val2025w48-l128-biLSTM-baseline",
  );
  assert.equal(runNamePrefix("", 128, ""), "l128");
  assert.throws(
    () => runNamePrefix("v", 0, "t"),
    (e: unknown) =>
      e instanceof RangeError &&
      e.message === "Cannot build a run name: window size must be a positive integer, received 0",
  );
});

const noYaml = await skipUnlessPython("yaml");

Deno.test({
  name: "dumpYaml() output reads back the same in PyYAML, and parseYaml() reads PyYAML's output",
  ignore: noYaml,
  async fn() {
    const doc = {
      name: "it's: a name",
      description: "two lines:\n'quoted' and \"double\"\ttab",
      experiment_id: "0",
      creation_time: 1700000000123,
      end_time: null,
      tags: [] as [],
      aliases: { champion: "3", "b-2": "10" },
    };
    const py = await pythonJson<{ parsed: unknown; dumped: string }>(
      `import json, sys, yaml\nd = yaml.safe_load(sys.stdin.read())\n` +
        `print(json.dumps({"parsed": d, "dumped": yaml.safe_dump(d, default_flow_style=False)}))`,
      { stdin: dumpYaml(doc) },
    );
    assert.deepEqual(py.parsed, doc);
    assert.deepEqual(parseYaml(py.dumped), doc);
  },
});
