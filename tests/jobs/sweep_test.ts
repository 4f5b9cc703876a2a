import assert from "#assert";
import {
  parseGrid,
  parseShard,
  parseSpace,
  shardTrialNumbers,
  sweepId,
  sweepResultsCsv,
  sweepTrials,
  trialArgs,
} from "../../src/jobs/sweep.ts";
import { checkTrainArgs, parseSweepArgs, SWEEP_HELP } from "../../cli/sweep.ts";

Deno.test("sweepTrials() lists a grid's combinations, the first key varying slowest", () => {
  const grid = parseGrid(
    '{"lr": [0.001, 0.003], "hidden-size": [32, 64], "bidirectional": [true, false]}',
    "g.json",
  );
  const trials = sweepTrials({ kind: "grid", grid });
  assert.equal(trials.length, 8);
  assert.deepEqual(trials[0], { lr: 0.001, "hidden-size": 32, bidirectional: true });
  assert.deepEqual(trials[1], { lr: 0.001, "hidden-size": 32, bidirectional: false });
  assert.deepEqual(trials[7], { lr: 0.003, "hidden-size": 64, bidirectional: false });
  assert.equal(new Set(trials.map((t) => JSON.stringify(t))).size, 8, "all distinct");
  assert.deepEqual(trialArgs(trials[0]), [
    "--lr",
    "0.001",
    "--hidden-size",
    "32",
    "--bidirectional",
  ]);
  assert.deepEqual(trialArgs(trials[1]), ["--lr", "0.001", "--hidden-size", "32"]);
});

Deno.test("sweepTrials() draws a random search from its seed: in range, repeatable", () => {
  const space = parseSpace(
    JSON.stringify({
      lr: { loguniform: [1e-4, 1e-2] },
      dropout: { uniform: [0, 0.5] },
      "hidden-size": { choice: [32, 64, 128] },
      "num-layers": { int: [1, 3] },
    }),
    "s.json",
  );
  const a = sweepTrials({ kind: "random", space, count: 200, seed: 5 });
  assert.deepEqual(sweepTrials({ kind: "random", space, count: 200, seed: 5 }), a);
  assert.notDeepEqual(sweepTrials({ kind: "random", space, count: 200, seed: 6 }), a);
  for (const t of a) {
    assert.ok((t.lr as number) >= 1e-4 && (t.lr as number) <= 1e-2, String(t.lr));
    assert.ok((t.dropout as number) >= 0 && (t.dropout as number) <= 0.5);
    assert.ok([32, 64, 128].includes(t["hidden-size"] as number));
    assert.ok([1, 2, 3].includes(t["num-layers"] as number));
  }
  // Every choice and integer is drawn; log-uniform draws spread over the decades.
  assert.deepEqual(new Set(a.map((t) => t["num-layers"])), new Set([1, 2, 3]));
  assert.deepEqual(new Set(a.map((t) => t["hidden-size"])), new Set([32, 64, 128]));
  const lowDecade = a.filter((t) => (t.lr as number) < 1e-3).length;
  assert.ok(lowDecade > 60 && lowDecade < 140, `${lowDecade} of 200 below 1e-3`);
});

Deno.test("shards split the trials deterministically: disjoint, complete, balanced", () => {
  for (const [total, n] of [[4, 2], [10, 3], [2, 5], [1, 1]]) {
    const parts = Array.from(
      { length: n },
      (_, i) => shardTrialNumbers(total, { index: i + 1, count: n }),
    );
    const all = parts.flat().sort((x, y) => x - y);
    assert.deepEqual(all, Array.from({ length: total }, (_, i) => i + 1), `${total}/${n}`);
    const sizes = parts.map((p) => p.length);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1);
  }
  assert.deepEqual(shardTrialNumbers(4, parseShard("2/2")), [2, 4]);
});

Deno.test("sweep inputs are checked, naming the flag and what is allowed", async (t) => {
  const cases: [() => unknown, string][] = [
    [() => parseShard("0/2"), 'Cannot use --shard "0/2": expected i/n with 1 <= i <= n'],
    [() => parseShard("3/2"), 'Cannot use --shard "3/2": expected i/n with 1 <= i <= n'],
    [() => parseGrid("[1]", "g.json"), "Cannot read grid g.json: expected a JSON object"],
    [
      () => parseGrid('{"lr": []}', "g.json"),
      'Cannot read grid g.json: "lr" must be a non-empty list',
    ],
    [() => parseGrid('{"--lr": [1]}', "g.json"), 'key "--lr" is not a train flag name'],
    [() => parseGrid("{", "g.json"), "Cannot read grid g.json: not JSON"],
    [
      () => parseSpace('{"lr": {"loguniform": [0, 1]}}', "s.json"),
      "needs [lo, hi] with lo <= hi and lo > 0",
    ],
    [() => parseSpace('{"lr": {"normal": [0, 1]}}', "s.json"), 'has unknown kind "normal"'],
  ];
  for (const [fn, message] of cases) {
    await t.step(message, () => {
      assert.throws(fn, (e: Error) => e.message.includes(message));
    });
  }
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/g.json`, '{"lr": [0.001, -1]}');
    const options = await parseSweepArgs(["--grid", `${dir}/g.json`, "--", "--epochs", "1"]);
    assert.throws(() => checkTrainArgs(options), {
      message: 'Cannot run trial 2: Cannot use --lr "-1": expected a number > 0',
    });
    await Deno.writeTextFile(`${dir}/g.json`, '{"lr": [0.001]}');
    const clash = await parseSweepArgs(["--grid", `${dir}/g.json`, "--", "--lr", "0.1"]);
    assert.throws(() => checkTrainArgs(clash), {
      message: "Cannot sweep over --lr: it is also among the shared train flags after --",
    });
    const reserved = await parseSweepArgs(["--grid", `${dir}/g.json`, "--", "--output-dir", "x"]);
    assert.throws(() => checkTrainArgs(reserved), /Cannot pass --output-dir after --/);
    await assert.rejects(() => parseSweepArgs(["--random", "3"]), {
      message: "Cannot use --random without --space FILE",
    });
    await assert.rejects(
      () => parseSweepArgs([]),
      /pass exactly one of --grid FILE and --random N/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  for (
    const flag of [
      "--grid",
      "--random",
      "--space",
      "--seed",
      "--shard",
      "--parallel",
      "--output-dir",
      "--sweep-id",
      "--name",
    ]
  ) {
    assert.ok(SWEEP_HELP.includes(flag), flag);
  }
});

Deno.test("sweepId() is the same for the same definition whatever the key order", async () => {
  const a = await sweepId("e", { kind: "grid", grid: { lr: [1, 2], "hidden-size": [3] } }, {
    x: 1,
    y: 2,
  });
  const b = await sweepId("e", { kind: "grid", grid: { "hidden-size": [3], lr: [1, 2] } }, {
    y: 2,
    x: 1,
  });
  const c = await sweepId("f", { kind: "grid", grid: { lr: [1, 2], "hidden-size": [3] } }, {
    x: 1,
    y: 2,
  });
  assert.match(a, /^sw-[0-9a-f]{12}$/);
  assert.equal(a, b);
  assert.notEqual(a, c);
});

Deno.test("sweepResultsCsv() ranks children by best val macro-F1 with their settings", () => {
  const child = (trial: number, f1: number | null, status = "FINISHED") => ({
    trial,
    runId: `id${trial}`,
    runName: `s-trial${trial}`,
    status,
    params: { lr: String(trial / 1000), note: "a,b" },
    epochs: 2,
    bestValMacroF1: f1,
    valCost: 10 * trial,
  });
  const csv = sweepResultsCsv([child(1, 0.2), child(2, 0.5), child(3, null, "FAILED")], [
    "lr",
    "note",
  ]);
  assert.equal(
    csv,
    "rank,trial,run_name,run_id,status,lr,note,epochs,best_val_macro_f1,val_cost\n" +
      '1,2,s-trial2,id2,FINISHED,0.002,"a,b",2,0.5,20\n' +
      '2,1,s-trial1,id1,FINISHED,0.001,"a,b",2,0.2,10\n' +
      '3,3,s-trial3,id3,FAILED,0.003,"a,b",2,,30\n',
  );
});
