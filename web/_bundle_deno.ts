/**
 * What the page runs, prepared at start-up: `web/app.ts` and the core bundled for the
 * browser, and the folder of tfjs' wasm binaries in Deno's npm cache.
 *
 * @module
 */
import { WEB_DIR } from "./_static_files_deno.ts";

const ROOT_DIR = new URL("../", import.meta.url);

/** Options of {@linkcode bundleDemo}. */
export interface BundleOptions {
  /** Unminified with a linked `app.js.map` (development); default minified, no map. */
  readonly sourceMap?: boolean;
  /** Aborting it kills the bundler. */
  readonly signal?: AbortSignal;
}

/**
 * Bundles `web/app.ts` (and the core it imports) for the browser into `outDir/app.js`.
 * Minified by default: an unminified bundle carries one comment per module naming its path
 * in the local npm cache.
 */
export async function bundleDemo(outDir: string, options: BundleOptions = {}): Promise<string> {
  const output = `${outDir}/app.js`;
  const cmd = new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "browser",
      "--format",
      "esm",
      ...(options.sourceMap ? ["--sourcemap", "linked"] : ["--minify", "--keep-names"]),
      "--config",
      new URL("deno.json", ROOT_DIR).pathname,
      new URL("app.ts", WEB_DIR).pathname,
      "-o",
      output,
    ],
    cwd: ROOT_DIR.pathname,
    stdout: "piped",
    stderr: "piped",
    signal: options.signal,
  });
  const { code, stdout, stderr } = await cmd.output();
  if (code !== 0) {
    const text = new TextDecoder().decode(stderr) + new TextDecoder().decode(stdout);
    throw new Error(
      `Cannot bundle the demo page web/app.ts: deno bundle exited with ${code}:\n${text}`,
    );
  }
  return output;
}

/**
 * Deno's npm cache keeps one folder per registry host; the package lives under whichever
 * holds it. Returns the first match, or the first candidate (reported as missing below).
 */
async function findInNpmCache(npmCache: string, packagePath: string): Promise<string> {
  const candidates: string[] = [];
  for await (const entry of Deno.readDir(npmCache)) {
    if (entry.isDirectory) candidates.push(`${npmCache}/${entry.name}/${packagePath}`);
  }
  for (const dir of candidates) {
    try {
      if ((await Deno.stat(dir)).isDirectory) return dir;
    } catch {
      // not in this registry's folder
    }
  }
  return candidates[0] ?? `${npmCache}/${packagePath}`;
}

/** The folder holding tfjs-backend-wasm's `.wasm` files (in Deno's npm cache). */
export async function wasmDistDir(): Promise<string> {
  const specifier = import.meta.resolve("@tensorflow/tfjs-backend-wasm");
  let dir: string;
  if (specifier.startsWith("file://")) {
    dir = new URL(".", specifier).pathname.replace(/\/$/, "");
  } else {
    const match = /^npm:\/?(@tensorflow\/tfjs-backend-wasm)@([^/]+)/.exec(specifier);
    if (!match) {
      throw new Error(
        `Cannot locate the tfjs wasm binaries: @tensorflow/tfjs-backend-wasm resolves to ` +
          `${specifier}, expected a file: or npm: specifier`,
      );
    }
    const info = new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" });
    const { npmCache } = JSON.parse(new TextDecoder().decode((await info.output()).stdout)) as {
      npmCache: string;
    };
    dir = await findInNpmCache(npmCache, `${match[1]}/${match[2]}/dist`);
  }
  try {
    await Deno.stat(`${dir}/tfjs-backend-wasm-simd.wasm`);
  } catch (cause) {
    throw new Error(
      `Cannot locate the tfjs wasm binaries: ${dir}/tfjs-backend-wasm-simd.wasm is missing; ` +
        `hint: run "deno cache web/app.ts" once to fill the npm cache`,
      { cause },
    );
  }
  return dir;
}
