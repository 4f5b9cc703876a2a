/**
 * The layer rule of ARCHITECTURE.md as a test: every relative import in src/, cli/, web/
 * and bench/ points down the documented order (or stays in its folder), no import cycle
 * exists, no folder reaches into another folder's `_private.ts` file, and browser-safe
 * `src/` files never import a `*_deno.ts` file.
 */
import assert from "#assert";

const ROOT = new URL("../", import.meta.url);

/**
 * The layers from bottom to top, as ARCHITECTURE.md lists them between its
 * `<!-- layers -->` markers (the test checks that the two agree).
 */
export const LAYERS: readonly string[] = Object.freeze([
  "src/npz",
  "src/torch",
  "src/data",
  "src/runtime",
  "src/kernels",
  "src/model",
  "src/metrics",
  "src/train",
  "src/report",
  "src/tracking",
  "src/review",
  "src/jobs",
  "web",
  "cli",
  "bench",
]);

/**
 * Imports that break the rule, each with the reason it is tolerated. Empty: the kernel work
 * of issue 16/17 removed the last ones (the WebGPU LSTM's fallback to the model, the perf
 * harness in src/kernels/, the LSTM implementation choice in train/config.ts). The test
 * fails when an entry no longer exists, so the list can only shrink.
 */
export const ALLOWED: readonly (readonly [string, string, string])[] = Object.freeze([]);

/**
 * The most lines a file in src/, cli/ or web/ may have (issue 16: "no file over ~400 lines").
 * A file that outgrows it holds more than one job: split it by concept, as ARCHITECTURE.md
 * says, rather than raising the limit.
 */
export const MAX_LINES = 400;

/** Files of src/, cli/ and web/ longer than `limit` lines, as "path: N lines". */
export function overLongFiles(files: ReadonlyMap<string, string>, limit = MAX_LINES): string[] {
  const out: string[] = [];
  for (const [file, source] of files) {
    if (!/^(src|cli|web)\//.test(file)) continue;
    const lines = source.split("\n").length - (source.endsWith("\n") ? 1 : 0);
    if (lines > limit) out.push(`${file}: ${lines} lines`);
  }
  return out.sort();
}

/** Relative import specifiers of a TypeScript source (static, dynamic, type-only). */
export function importsOf(source: string): string[] {
  // Comments hold examples (`import ... from "..."` in JSDoc): drop them first.
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
  const out: string[] = [];
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?[^;"'`]*?\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const m of code.matchAll(pattern)) if (m[1].startsWith(".")) out.push(m[1]);
  }
  return out;
}

/** `a/b/../c.ts` -> `a/c.ts`. */
function normalize(path: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return parts.join("/");
}

/** The layer a file belongs to (its folder in {@link LAYERS}), or null. */
export function layerOf(file: string, layers: readonly string[] = LAYERS): string | null {
  return layers.find((layer) => file.startsWith(`${layer}/`)) ?? null;
}

/** The import graph: file -> files it imports (repository-relative paths). */
export function importGraph(files: ReadonlyMap<string, string>): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const [file, source] of files) {
    const dir = file.split("/").slice(0, -1).join("/");
    graph.set(file, importsOf(source).map((spec) => normalize(`${dir}/${spec}`)));
  }
  return graph;
}

/** What breaks the rule, as readable lines ("a.ts -> b.ts: why"). */
export function layerViolations(
  graph: ReadonlyMap<string, readonly string[]>,
  layers: readonly string[] = LAYERS,
): string[] {
  const out: string[] = [];
  for (const [file, targets] of graph) {
    const from = layerOf(file, layers);
    if (from === null) {
      out.push(`${file}: its folder is not a layer; add it to ARCHITECTURE.md and LAYERS`);
      continue;
    }
    for (const target of targets) {
      const to = layerOf(target, layers);
      const edge = `${file} -> ${target}`;
      if (to === null) {
        if (target.startsWith("src/") || target.startsWith("cli/") || target.startsWith("web/")) {
          out.push(`${edge}: the target's folder is not a layer`);
        }
        continue;
      }
      if (layers.indexOf(to) > layers.indexOf(from)) {
        out.push(`${edge}: imports up (${from} is below ${to})`);
      }
      const name = target.split("/").pop()!;
      if (to !== from && name.startsWith("_")) {
        out.push(`${edge}: ${name} is private to ${to}`);
      }
      if (
        from.startsWith("src/") && !file.endsWith("_deno.ts") && target.endsWith("_deno.ts")
      ) {
        out.push(`${edge}: a browser-safe file imports a Deno edge`);
      }
    }
  }
  return out;
}

/** Every import cycle (strongly connected component of more than one file, or a self-import). */
export function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) {
        cycles.push(component.sort());
      }
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

async function sourceFiles(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (entry.name.endsWith(".ts")) {
        files.set(path, await Deno.readTextFile(new URL(path, ROOT)));
      }
    }
  };
  for (const dir of ["src", "cli", "web", "bench"]) await walk(dir);
  return files;
}

/** The graph of the repository, without the allow-listed edges. */
async function repositoryGraph(): Promise<Map<string, string[]>> {
  const graph = importGraph(await sourceFiles());
  for (const [from, to] of ALLOWED) {
    const targets = graph.get(from);
    assert.ok(
      targets?.includes(to),
      `the allowed import ${from} -> ${to} no longer exists: remove it from ALLOWED`,
    );
    graph.set(from, targets!.filter((t) => t !== to));
  }
  return graph;
}

Deno.test("every import points down the layers of ARCHITECTURE.md", async () => {
  const violations = layerViolations(await repositoryGraph());
  assert.deepEqual(violations, [], `\n${violations.join("\n")}`);
});

Deno.test("no import cycle in src/, cli/, web/, bench/", async () => {
  const cycles = importCycles(await repositoryGraph());
  assert.deepEqual(cycles, [], `\n${cycles.map((c) => c.join(" -> ")).join("\n")}`);
});

Deno.test(`no file in src/, cli/, web/ over ${MAX_LINES} lines`, async () => {
  const long = overLongFiles(await sourceFiles());
  assert.deepEqual(long, [], `\n${long.join("\n")}`);
});

Deno.test("ARCHITECTURE.md lists the layers in the order this test enforces", async () => {
  const doc = await Deno.readTextFile(new URL("ARCHITECTURE.md", ROOT));
  const block = /<!-- layers -->([\s\S]*?)<!-- \/layers -->/.exec(doc);
  assert.ok(block, "ARCHITECTURE.md has no <!-- layers --> ... <!-- /layers --> block");
  const listed = [...block![1].matchAll(/`([a-z/]+)\/`/g)].map((m) => m[1]);
  assert.deepEqual(listed, LAYERS);
});

Deno.test("ARCHITECTURE.md lists every export of mod.ts, and only those", async () => {
  const doc = await Deno.readTextFile(new URL("ARCHITECTURE.md", ROOT));
  const api = doc.slice(doc.indexOf("## The public API"));
  const listed = [...api.matchAll(/^- `([A-Za-z_$][\w$]*)`: \S/gm)].map((m) => m[1]).sort();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", "mod.ts"],
    cwd: ROOT.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const json = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    nodes: Record<string, { symbols: { name: string }[] }>;
  };
  const exported = Object.values(json.nodes).flatMap((n) => n.symbols.map((s) => s.name)).sort();
  assert.deepEqual(
    { missing: exported.filter((n) => !listed.includes(n)) },
    { missing: [] },
    "exports of mod.ts without a line in ARCHITECTURE.md",
  );
  assert.deepEqual(
    { stale: listed.filter((n) => !exported.includes(n)) },
    { stale: [] },
    "names in ARCHITECTURE.md that mod.ts does not export",
  );
});

Deno.test("the checks find what they look for", async (t) => {
  const files = new Map([
    ["src/data/a.ts", 'import { b } from "../model/b.ts";\n// import { x } from "../npz/x.ts";'],
    ["src/model/b.ts", 'import type { A } from "../data/a.ts";\nexport * from "./_c.ts";'],
    ["src/model/_c.ts", 'const m = await import("../train/d_deno.ts");'],
    ["src/train/d_deno.ts", 'import "../model/_c.ts";'],
    ["src/npz/e.ts", '/** ```ts\n * import { f } from "../jobs/f.ts";\n * ``` */'],
    ["src/oops/f.ts", ""],
  ]);
  const graph = importGraph(files);
  await t.step("imports: static, type-only, re-exports, dynamic, side effect; not comments", () => {
    assert.deepEqual(graph.get("src/data/a.ts"), ["src/model/b.ts"]);
    assert.deepEqual(graph.get("src/model/b.ts"), ["src/data/a.ts", "src/model/_c.ts"]);
    assert.deepEqual(graph.get("src/model/_c.ts"), ["src/train/d_deno.ts"]);
    assert.deepEqual(graph.get("src/train/d_deno.ts"), ["src/model/_c.ts"]);
    assert.deepEqual(graph.get("src/npz/e.ts"), []);
  });
  await t.step("upward imports, private files, Deno edges, unknown folders", () => {
    assert.deepEqual(layerViolations(graph).sort(), [
      "src/data/a.ts -> src/model/b.ts: imports up (src/data is below src/model)",
      "src/model/_c.ts -> src/train/d_deno.ts: a browser-safe file imports a Deno edge",
      "src/model/_c.ts -> src/train/d_deno.ts: imports up (src/model is below src/train)",
      "src/oops/f.ts: its folder is not a layer; add it to ARCHITECTURE.md and LAYERS",
      "src/train/d_deno.ts -> src/model/_c.ts: _c.ts is private to src/model",
    ]);
  });
  await t.step("file length: lines as an editor numbers them, only in src/, cli/, web/", () => {
    const lines = (n: number) => "x\n".repeat(n);
    const sized = new Map([
      ["src/a.ts", lines(3)],
      ["cli/b.ts", lines(4)],
      ["web/c.ts", lines(3) + "no newline at the end"],
      ["bench/d.ts", lines(9)],
    ]);
    assert.deepEqual(overLongFiles(sized, 3), ["cli/b.ts: 4 lines", "web/c.ts: 4 lines"]);
  });
  await t.step("cycles", () => {
    assert.deepEqual(importCycles(graph), [
      ["src/model/_c.ts", "src/train/d_deno.ts"],
      ["src/data/a.ts", "src/model/b.ts"],
    ]);
  });
});
