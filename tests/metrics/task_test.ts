import assert from "#assert";
import {
  COMPONENT_X_TASK,
  COST_MATRIX,
  defaultTask,
  genericTask,
  parseTask,
  taskToJson,
} from "../../src/metrics/mod.ts";

Deno.test("parseTask() reads class names, a cost matrix and the promotion metric", () => {
  const task = parseTask(
    JSON.stringify({
      name: "fails-48h",
      class_names: ["ok", "fails"],
      cost_matrix: [[0, 1], [25, 0]],
      promotion_metric: "val_cost",
    }),
    "--task t.json",
  );
  assert.deepEqual(task, {
    name: "fails-48h",
    classNames: ["ok", "fails"],
    costMatrix: [[0, 1], [25, 0]],
    promotionMetric: "val_cost",
  });
  assert.ok(Object.isFrozen(task) && Object.isFrozen(task.costMatrix![1]));
  assert.deepEqual(parseTask(taskToJson(task)), task);
  const plain = parseTask({ class_names: ["a", "b", "c"] });
  assert.deepEqual(plain, {
    name: "3-class",
    classNames: ["a", "b", "c"],
    costMatrix: null,
    promotionMetric: "val_macro_f1",
  });
});

Deno.test("defaultTask() is Component X's for 5 classes, K named classes without costs otherwise", () => {
  assert.equal(defaultTask(5), COMPONENT_X_TASK);
  assert.deepEqual(COMPONENT_X_TASK.costMatrix, COST_MATRIX);
  assert.deepEqual(COMPONENT_X_TASK.classNames, [
    "more than 48 steps",
    "48 to 24 steps",
    "24 to 12 steps",
    "12 to 6 steps",
    "6 to 0 steps",
  ]);
  assert.deepEqual(defaultTask(9), genericTask(9));
  assert.deepEqual(genericTask(3).classNames, ["0", "1", "2"]);
  assert.equal(genericTask(2).costMatrix, null);
  assert.throws(() => genericTask(1), {
    name: "RangeError",
    message: "Cannot make a task: expected at least 2 classes, received 1",
  });
});

Deno.test("parseTask() rejects bad task files naming the key and what is allowed", async (t) => {
  const table: { name: string; input: unknown; error: string; type?: string }[] = [
    { name: "not JSON", input: "{", error: "not valid JSON", type: "SyntaxError" },
    {
      name: "a list",
      input: [],
      error: 'expected a JSON object with "class_names"',
    },
    {
      name: "an unknown key",
      input: { class_names: ["a", "b"], costs: [] },
      error: 'unknown key(s) "costs"; allowed keys: name, class_names, cost_matrix, ' +
        "promotion_metric",
    },
    {
      name: "one class",
      input: { class_names: ["a"] },
      error: '"class_names" must be a list of at least 2 names, received ["a"]',
    },
    {
      name: "a duplicate name",
      input: { class_names: ["a", "a"] },
      error: '"class_names" lists "a" twice; every class needs its own name',
    },
    {
      name: "a report key as a name",
      input: { class_names: ["a", "macro avg"] },
      error: '"class_names"[1] is "macro avg", a key of the classification report; rename it',
    },
    {
      name: "an empty name",
      input: { class_names: ["a", " "] },
      error: '"class_names"[1] must be a non-empty string of at most 100 characters, received " "',
    },
    {
      name: "a cost matrix of the wrong size",
      input: { class_names: ["a", "b"], cost_matrix: [[0, 1]] },
      error: '"cost_matrix" must be 2 x 2 (one row per class), received 1 rows',
    },
    {
      name: "a short cost row",
      input: { class_names: ["a", "b"], cost_matrix: [[0, 1], [2]] },
      error: '"cost_matrix" row 1 must hold 2 numbers, received [2]',
    },
    {
      name: "a negative cost",
      input: { class_names: ["a", "b"], cost_matrix: [[0, 1], [-2, 0]] },
      error: '"cost_matrix"[1][0] must be a finite number >= 0, received -2',
    },
    {
      name: "an unknown promotion metric",
      input: { class_names: ["a", "b"], promotion_metric: "val_f1" },
      error: '"promotion_metric" "val_f1" is not one of val_macro_f1, val_acc, val_cost',
    },
    {
      name: "cost promotion without costs",
      input: { class_names: ["a", "b"], promotion_metric: "val_cost" },
      error: '"promotion_metric" "val_cost" needs a "cost_matrix"',
    },
  ];
  for (const row of table) {
    await t.step(row.name, () => {
      assert.throws(() => parseTask(row.input, "--task t.json"), {
        name: row.type ?? "RangeError",
        message: new RegExp(
          `^Cannot use --task t\\.json: ${row.error.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`,
        ),
      });
    });
  }
});
