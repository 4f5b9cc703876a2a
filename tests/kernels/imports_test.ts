import assert from "#assert";

const KERNELS = new URL("../../src/kernels/", import.meta.url);

Deno.test("src/kernels imports only tfjs and its own files (kernels are a leaf: no model, no fallback)", async () => {
  const bad: string[] = [];
  let files = 0;
  for await (const entry of Deno.readDir(KERNELS)) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    files++;
    const text = await Deno.readTextFile(new URL(entry.name, KERNELS));
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^"';]*?from\s*"([^"]+)"/g)) {
      const spec = m[1];
      const own = spec.startsWith("./") && !spec.slice(2).includes("/");
      if (!own && spec !== "@tensorflow/tfjs") bad.push(`${entry.name}: ${spec}`);
    }
  }
  assert.ok(files >= 10, `only ${files} files read`);
  assert.deepEqual(bad, []);
});
