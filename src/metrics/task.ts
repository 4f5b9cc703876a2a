/**
 * The classification task: the names of the K classes, an optional K x K cost matrix and
 * the metric that picks the best checkpoint and decides promotion. `--task FILE` reads one
 * from JSON ({@link parseTask}); without it, Component X's built-in task applies to 5-class
 * data and a plain K-class task (no costs) to any other ({@link defaultTask}).
 *
 * @module
 */

/** The metrics a task may promote on (names of `metrics.csv` columns). */
export const PROMOTION_METRICS = Object.freeze(["val_macro_f1", "val_acc", "val_cost"] as const);

/** A metric the best checkpoint and promotion are decided on. */
export type PromotionMetric = (typeof PROMOTION_METRICS)[number];

/** True when a smaller value of `metric` is better (cost). */
export function lowerIsBetter(metric: PromotionMetric): boolean {
  return metric === "val_cost";
}

/** A classification task. */
export interface Task {
  /** A short name for reports and MLflow (`component-x`, `japanese-vowels`, ...). */
  readonly name: string;
  /** One name per class, in label order (label i is `classNames[i]`); K = its length. */
  readonly classNames: readonly string[];
  /** Misclassification costs (rows = true class, columns = predicted), or null: no costs. */
  readonly costMatrix: readonly (readonly number[])[] | null;
  /** What the best checkpoint and promotion are decided on (default `val_macro_f1`). */
  readonly promotionMetric: PromotionMetric;
}

/** A task as JSON (`--task FILE`, `task.json` artifacts, checkpoints): snake_case keys. */
export interface TaskJson {
  name?: string;
  class_names: string[];
  cost_matrix?: number[][] | null;
  promotion_metric?: PromotionMetric;
}

/**
 * Component X misclassification costs (rows = true class, columns = predicted class).
 * Late predictions (a safer class than the truth) cost 20-70x more than early ones.
 */
export const COST_MATRIX: readonly (readonly number[])[] = Object.freeze([
  Object.freeze([0, 7, 8, 9, 10]),
  Object.freeze([200, 0, 7, 8, 9]),
  Object.freeze([300, 200, 0, 7, 8]),
  Object.freeze([400, 300, 200, 0, 7]),
  Object.freeze([500, 400, 300, 200, 0]),
]);

/**
 * Component X's class names: the data contract's time-to-failure bins ("time steps before
 * failure" at the window's last readout), class 0 also holding vehicles that never fail.
 */
export const COMPONENT_X_CLASS_NAMES: readonly string[] = Object.freeze([
  "more than 48 steps",
  "48 to 24 steps",
  "24 to 12 steps",
  "12 to 6 steps",
  "6 to 0 steps",
]);

/** The built-in task of the data contract: 5 time-to-failure classes and their costs. */
export const COMPONENT_X_TASK: Task = Object.freeze({
  name: "component-x",
  classNames: COMPONENT_X_CLASS_NAMES,
  costMatrix: COST_MATRIX,
  promotionMetric: "val_macro_f1",
});

/** Keys scikit-learn's `classification_report` uses beside the classes. */
const REPORT_KEYS = new Set(["accuracy", "macro avg", "weighted avg", "micro avg"]);

/** A K-class task without costs: classes named "0".."K-1" (scikit-learn's default names). */
export function genericTask(numClasses: number): Task {
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new RangeError(
      `Cannot make a task: expected at least 2 classes, received ${numClasses}`,
    );
  }
  return Object.freeze({
    name: `${numClasses}-class`,
    classNames: Object.freeze(Array.from({ length: numClasses }, (_, i) => String(i))),
    costMatrix: null,
    promotionMetric: "val_macro_f1",
  });
}

/**
 * The task when none is named: Component X's for 5 classes (the data contract's default
 * data), otherwise {@link genericTask}.
 */
export function defaultTask(numClasses: number): Task {
  return numClasses === COMPONENT_X_TASK.classNames.length
    ? COMPONENT_X_TASK
    : genericTask(numClasses);
}

/**
 * Validates a task (parsed JSON or its text) and returns it frozen. `source` names it in
 * errors (e.g. `--task tasks/vowels.json`). Unknown keys are an error, so a typo is never
 * silently ignored.
 *
 * @example
 * ```ts
 * const task = parseTask({ class_names: ["ok", "fails"], cost_matrix: [[0, 1], [20, 0]] });
 * task.costMatrix; // [[0, 1], [20, 0]]
 * ```
 */
export function parseTask(input: unknown, source = "the task"): Task {
  const fail = (what: string): never => {
    throw new RangeError(`Cannot use ${source}: ${what}`);
  };
  let json = input;
  if (typeof input === "string") {
    try {
      json = JSON.parse(input);
    } catch (cause) {
      throw new SyntaxError(
        `Cannot use ${source}: not valid JSON (${(cause as Error).message})`,
        { cause },
      );
    }
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    fail(
      'expected a JSON object with "class_names" (and optionally "cost_matrix", ' +
        '"promotion_metric", "name")',
    );
  }
  const o = json as Record<string, unknown>;
  const allowed = ["name", "class_names", "cost_matrix", "promotion_metric"];
  const unknown = Object.keys(o).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    fail(
      `unknown key(s) ${unknown.map((k) => JSON.stringify(k)).join(", ")}; ` +
        `allowed keys: ${allowed.join(", ")}`,
    );
  }
  const names = o.class_names;
  if (!Array.isArray(names) || names.length < 2) {
    fail(`"class_names" must be a list of at least 2 names, received ${JSON.stringify(names)}`);
  }
  const classNames = (names as unknown[]).map((n, i) => {
    if (typeof n !== "string" || n.trim() === "" || n.length > 100) {
      fail(
        `"class_names"[${i}] must be a non-empty string of at most 100 characters, ` +
          `received ${JSON.stringify(n)}`,
      );
    }
    if (REPORT_KEYS.has(n as string)) {
      fail(`"class_names"[${i}] is "${n}", a key of the classification report; rename it`);
    }
    return n as string;
  });
  const seen = new Set<string>();
  for (const n of classNames) {
    if (seen.has(n)) fail(`"class_names" lists "${n}" twice; every class needs its own name`);
    seen.add(n);
  }
  const k = classNames.length;
  let costMatrix: readonly (readonly number[])[] | null = null;
  if (o.cost_matrix !== undefined && o.cost_matrix !== null) {
    const m = o.cost_matrix;
    if (!Array.isArray(m) || m.length !== k) {
      fail(
        `"cost_matrix" must be ${k} x ${k} (one row per class), received ${
          Array.isArray(m) ? `${m.length} rows` : JSON.stringify(m)
        }`,
      );
    }
    costMatrix = Object.freeze((m as unknown[]).map((row, i) => {
      if (!Array.isArray(row) || row.length !== k) {
        fail(`"cost_matrix" row ${i} must hold ${k} numbers, received ${JSON.stringify(row)}`);
      }
      return Object.freeze((row as unknown[]).map((v, j) => {
        if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
          fail(
            `"cost_matrix"[${i}][${j}] must be a finite number >= 0, received ` +
              JSON.stringify(v),
          );
        }
        return v as number;
      }));
    }));
  }
  const metric = o.promotion_metric ?? "val_macro_f1";
  if (!(PROMOTION_METRICS as readonly unknown[]).includes(metric)) {
    fail(
      `"promotion_metric" ${JSON.stringify(metric)} is not one of ${PROMOTION_METRICS.join(", ")}`,
    );
  }
  if (metric === "val_cost" && costMatrix === null) {
    fail('"promotion_metric" "val_cost" needs a "cost_matrix"');
  }
  const name = o.name ?? `${k}-class`;
  if (typeof name !== "string" || name.trim() === "" || name.length > 100) {
    fail(
      `"name" must be a non-empty string of at most 100 characters, received ${
        JSON.stringify(name)
      }`,
    );
  }
  return Object.freeze({
    name: name as string,
    classNames: Object.freeze(classNames),
    costMatrix,
    promotionMetric: metric as PromotionMetric,
  });
}

/** The task as JSON (the `--task` file layout); `parseTask(taskToJson(t))` gives `t` back. */
export function taskToJson(task: Task): TaskJson {
  return {
    name: task.name,
    class_names: [...task.classNames],
    cost_matrix: task.costMatrix ? task.costMatrix.map((row) => [...row]) : null,
    promotion_metric: task.promotionMetric,
  };
}
