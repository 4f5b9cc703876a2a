/**
 * PyTorch checkpoints (`.pt`, bytes in and out): a restricted pickle reader with the rules of
 * `torch.load(weights_only=True)`, a protocol-2 pickle writer, the zip layout `torch.save`
 * writes, and the PyTorch pipeline's checkpoint dict (epoch, model/AdamW/StepLR states,
 * args, RNG state).
 *
 * @module
 */
export * from "./py_value.ts";
export * from "./torch_tensor.ts";
export * from "./torch_format_error.ts";
export * from "./unpickle.ts";
export * from "./pickle.ts";
export * from "./read_torch_file.ts";
export * from "./write_torch_file.ts";
export * from "./pipeline_checkpoint.ts";
export * from "./torch_rng_state.ts";
