/**
 * Deno edge: model version tags and description in the file store's registry layout
 * (`<mlruns>/models/<name>/version-<v>/tags/<key>` and the version's `meta.yaml`).
 *
 * @module
 */
import type { ModelVersionAnnotator } from "./tracking_review_store.ts";

function checkKey(key: string, what: string): string {
  if (key === "" || key.startsWith("/") || key.split("/").includes("..")) {
    throw new RangeError(`Cannot write ${what} "${key}": expected a relative name without ".."`);
  }
  return key;
}

/** Annotates versions under a local `mlruns` folder. */
export class FileVersionAnnotator implements ModelVersionAnnotator {
  #root: string;

  /** `root`: the mlruns folder. */
  constructor(root: string) {
    this.#root = root.replace(/\/+$/, "");
  }

  async annotate(
    model: string,
    version: string,
    tags: Record<string, string>,
    description: string,
  ): Promise<void> {
    const dir = `${this.#root}/models/${checkKey(model, "model name")}/version-${version}`;
    for (const [key, value] of Object.entries(tags)) {
      const path = `${dir}/tags/${checkKey(key, "tag key")}`;
      await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
      await Deno.writeTextFile(path, value);
    }
    if (description !== "") {
      const metaPath = `${dir}/meta.yaml`;
      const meta = await Deno.readTextFile(metaPath);
      // The version's meta.yaml holds one top-level `description:` line; replace its value.
      const quoted = `'${description.replace(/'/g, "''").replace(/\n/g, " ")}'`;
      const updated = /^description:.*$/m.test(meta)
        ? meta.replace(/^description:.*$/m, `description: ${quoted}`)
        : `${meta.trimEnd()}\ndescription: ${quoted}\n`;
      const tmp = `${metaPath}.tmp-${crypto.randomUUID()}`;
      await Deno.writeTextFile(tmp, updated);
      await Deno.rename(tmp, metaPath);
    }
  }
}
