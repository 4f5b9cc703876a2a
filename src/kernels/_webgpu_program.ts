/**
 * Private glue to tfjs-backend-webgpu 4.22's program interface: a structural type for
 * `WebGPUProgram`, and `runProgram()` which runs one through `backend.runWebGPUProgram`
 * and wraps the result as a tracked `tf.Tensor`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The fields tfjs-backend-webgpu reads from a program (see its `webgpu_program.d.ts`). */
export interface WebGpuProgramLike {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[]; y?: number[]; z?: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  uniforms?: string;
  size?: boolean;
  getUserCode(): string;
}

/** One custom uniform; each scalar must be its own entry (vec3 alignment otherwise). */
export interface ProgramUniform {
  type: "int32" | "float32" | "uint32";
  data: number[];
}

interface WebGpuBackendLike {
  runWebGPUProgram(
    program: WebGpuProgramLike,
    inputs: tf.TensorInfo[],
    outputDtype: tf.DataType,
    customUniforms?: ProgramUniform[],
  ): tf.TensorInfo;
}

/** True when tfjs currently runs on a backend that accepts custom WebGPU programs. */
export function isWebGpuBackendActive(): boolean {
  if (tf.getBackend() !== "webgpu") return false;
  const b = tf.backend() as unknown as Partial<WebGpuBackendLike>;
  return typeof b.runWebGPUProgram === "function";
}

/** Runs `program` on the active webgpu backend; the float32 result is a tracked tensor. */
export function runProgram(
  program: WebGpuProgramLike,
  inputs: tf.Tensor[],
  uniforms: ProgramUniform[],
): tf.Tensor {
  if (!isWebGpuBackendActive()) {
    throw new Error(
      `Cannot run WebGPU program ${program.shaderKey}: the active tfjs backend is ` +
        `${JSON.stringify(tf.getBackend())}, expected "webgpu"; call tf.setBackend("webgpu") first`,
    );
  }
  const backend = tf.backend() as unknown as WebGpuBackendLike;
  const info = backend.runWebGPUProgram(program, inputs, "float32", uniforms);
  return tf.engine().makeTensorFromTensorInfo(info);
}

/** `n` int32 uniforms, one entry each. */
export function intUniforms(...values: number[]): ProgramUniform[] {
  return values.map((v) => ({ type: "int32", data: [v] }));
}

/** `n` float32 uniforms, one entry each. */
export function floatUniforms(...values: number[]): ProgramUniform[] {
  return values.map((v) => ({ type: "float32", data: [v] }));
}
