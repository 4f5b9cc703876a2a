/**
 * The child process of WebGPU tests (see tests/_webgpu.ts): runs on its main thread.
 *
 *   deno run -A tests/_webgpu_child.ts probe
 *   deno run -A tests/_webgpu_child.ts <module-url> <test-name> <report.json>
 */
import { runChild } from "./_webgpu.ts";

Deno.exit(await runChild(Deno.args));
