/**
 * Deno edge of `--resume-from`: what it points at (a checkpoint folder, a file in one, or a
 * `.pt` of ours or of the PyTorch pipeline), and which settings differ from a checkpoint's.
 *
 * @module
 */
import type { SequenceKeys } from "../data/sequence_dataset.ts";
import { type PipelineCheckpoint, readPipelineCheckpoint } from "../torch/pipeline_checkpoint.ts";
import type { readCheckpoint } from "../train/checkpoint.ts";
import { readCheckpointDir } from "../train/checkpoint_dir_deno.ts";
import type { TrainJobConfig } from "./run_spec.ts";

/** What `--resume-from` pointed at. */
export type ResumeSource =
  | { readonly kind: "none" }
  | { readonly kind: "folder"; readonly files: Record<string, Uint8Array> }
  | { readonly kind: "pt"; readonly checkpoint: PipelineCheckpoint };

/**
 * Reads `--resume-from`: a `.pt` file (ours or the pipeline's: a zip), a checkpoint folder,
 * or a file inside one (its folder). A path that does not exist starts from scratch, as the
 * pipeline does.
 */
export async function readResumeSource(
  path: string,
  label: string,
  log: (line: string) => void,
): Promise<ResumeSource> {
  if (path === "") return { kind: "none" };
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (cause) {
    if (!(cause instanceof Deno.errors.NotFound)) throw cause;
    log(`${label} ${path} not found: starting from scratch`);
    return { kind: "none" };
  }
  if (info.isFile) {
    const bytes = await Deno.readFile(path);
    if (path.endsWith(".pt") || (bytes[0] === 0x50 && bytes[1] === 0x4b)) {
      try {
        return { kind: "pt", checkpoint: readPipelineCheckpoint(bytes) };
      } catch (cause) {
        throw new Error(`Cannot resume from ${label} ${path}: ${(cause as Error).message}`, {
          cause,
        });
      }
    }
    const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
    return { kind: "folder", files: await readCheckpointDir(dir) };
  }
  return { kind: "folder", files: await readCheckpointDir(path) };
}

/** The loop settings that differ from a checkpoint's (those that change the result). */
export function differingSettings(
  job: TrainJobConfig,
  at: ReturnType<typeof readCheckpoint>,
): string[] {
  const free = new Set(["epochs", "logInterval"]);
  const saved = at.loop as unknown as Record<string, unknown>;
  const out = Object.entries(job.loop)
    .filter(([k, v]) => !free.has(k) && saved[k] !== v)
    .map(([k, v]) => `${k} ${JSON.stringify(saved[k])} -> ${JSON.stringify(v)}`);
  for (const [k, v] of Object.entries(at.dataKeys ?? {})) {
    const now = job.run[k as keyof SequenceKeys];
    if (now !== v) out.push(`${k} ${JSON.stringify(v)} -> ${JSON.stringify(now)}`);
  }
  return out;
}
