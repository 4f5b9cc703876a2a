/**
 * `--help` of `deno task train`: every flag, its default and what it writes.
 *
 * @module
 */
import { DEFAULT_TRAIN_JOB } from "../src/jobs/run_spec.ts";
import { DEVICE_CHOICES } from "../src/runtime/backend.ts";

/** The defaults shown in --help: every setting of the job, flat. */
const D = { ...DEFAULT_TRAIN_JOB.model, ...DEFAULT_TRAIN_JOB.loop, ...DEFAULT_TRAIN_JOB.run };

/** `--help` of `deno task train`. */
export const TRAIN_HELP = `deno task train [flags]

Trains the Component X LSTM classifier on TensorFlow.js (WebGPU or wasm), with the same
flags and defaults as the existing PyTorch pipeline (docs/train.md lists the differences).
Flags may be abbreviated to any unambiguous prefix, as argparse allows (--epoch 3).

Data
  --train-npz FILE           training sequences (default ${D.trainNpz})
  --val-npz FILE             validation sequences; unset = no validation (no val metrics,
                             no best checkpoint), as the pipeline
  --feature-stats FILE       feature_stats.json applied at load (default ${D.featureStats})
  --x-key KEY                npz member holding the windows (default ${D.xKey})
  --y-key KEY                npz member holding the labels (default ${D.yKey})
  --lengths-key KEY          npz member with valid lengths (default ${D.lengthsKey});
                             a "mask" (N, T) member is used when it is absent
  --task FILE                task JSON: {"class_names": [...], "cost_matrix": K x K (optional),
                             "promotion_metric": val_macro_f1|val_acc|val_cost (optional)};
                             default: Component X's task for 5 classes, else K classes
                             named 0..K-1 without costs
  --num-classes N            number of classes K >= 2 (default: the task's, else the largest
                             label + 1 over train and val); a label outside 0..K-1 is an error
Model
  --hidden-size N            LSTM hidden size (default ${D.hiddenSize})
  --num-layers N             stacked LSTM layers (default ${D.numLayers})
  --bidirectional            bidirectional LSTM (default off)
  --dropout P                dropout between LSTM layers and in the head, 0 <= P < 1 (default ${D.dropout})
  --pooling NAME             last|mean: each direction's final state / mean over the valid
                             steps; last-unmasked|mean-unmasked: the pipeline's forward (the
                             LSTM also runs over the padding) (default ${D.pooling})
  --lstm-impl fused|layers   LSTM implementation (default ${D.lstmImpl})
Optimisation
  --batch-size N             rows per step (default ${D.batchSize})
  --epochs N                 epochs (default ${D.epochs})
  --lr X                     AdamW learning rate (default ${D.lr})
  --weight-decay X           AdamW decoupled weight decay (default ${D.weightDecay})
  --step-lr-step-size N      StepLR: decay every N epochs (default ${D.stepLrStepSize})
  --step-lr-gamma X          StepLR: multiply the LR by X (default ${D.stepLrGamma})
  --weighted-loss            class-weighted cross-entropy, w_c = sqrt(N / (K n_c)) rescaled to sum K
  --weighted-sampler         sample rows with probability 1/n_c of their class
  --focal-loss               focal loss, gamma 2; as the pipeline, it ignores --weighted-loss
  --class-weighted           deprecated: --weighted-loss --weighted-sampler
  --grad-clip X              clip gradients to global L2 norm X; 0 = off (default ${D.gradClip})
  --bucket-by-length         batch rows of similar valid length together, so trimming each
                             batch to its longest row removes most padding (default off)
  --seed N                   seed of weights, shuffling and dropout (default ${D.seed})
  --patience N               stop after N epochs without a new best checkpoint; 0 = off (default ${D.patience})
Run
  --device NAME              ${DEVICE_CHOICES.join(", ")}, cuda:0: cuda/gpu = WebGPU
                             on a hardware adapter (an error without one), webgpu = WebGPU on
                             any adapter (software ones too), cpu = wasm backend;
                             unset = WebGPU on a hardware adapter, else wasm
  --output-dir DIR           metrics.csv, feature_stats.json, last.pt, best.pt, checkpoint
                             folders last/ and best/ (default ${D.outputDir})
  --resume-from PATH         continue from a checkpoint folder (artifacts/last: the same MLflow
                             run, metrics.csv rewritten to the checkpoint's epochs) or a .pt
                             (artifacts/last.pt, also the pipeline's; a new MLflow run);
                             settings not given as flags come from the .pt's args; a missing
                             path starts from scratch
  --overwrite                replace the outputs (metrics.csv, last/, best/, last.pt, best.pt)
                             of another training in --output-dir; without it (or
                             --resume-from) that is an error
  --log-interval N           progress and loss read-back every N steps (default ${D.logInterval})
  --data-version TEXT        data version tag, for run naming (default none)
  --model-tag TEXT           model tag, for run naming (default none)
Tracking
  --mlflow                   log the run to MLflow
  --mlflow-tracking-uri URI  http(s):// server, file: URI or local folder (default $MLFLOW_TRACKING_URI or ./mlruns)
  --mlflow-experiment NAME   experiment name (default ${D.mlflowExperiment})
  --mlflow-run-name NAME     run name (default generated)
  --mlflow-parent-run-id ID  log as a child run of ID (tag mlflow.parentRunId), as sweeps do
  --mlflow-tag KEY=VALUE     an extra run tag; repeat for more (the toolkit's own tags win)
  --log-system-metrics       sample system/cpu_utilization_percentage, system/system_memory_*,
                             system/network_*, system/process_memory_rss_megabytes into the run
                             (MLflow's log_system_metrics), and the WebGPU adapter as a tag
  --system-metrics-interval S  seconds between samples (default ${D.systemMetricsInterval})
  -h, --help                 print this help

Outputs under --output-dir: metrics.csv (epoch,train_loss,train_acc,val_loss,val_acc,
val_macro_f1,lr,val_cost,epoch_seconds; epoch from 0, lr after the scheduler step, as the
pipeline; val_cost only when the task has a cost matrix), feature_stats.json, last.pt and
best.pt (the pipeline's checkpoint format), last/ and best/ (state.json with the task and
the temperature fitted on the validation set, weights.safetensors, optimizer.safetensors,
model.safetensors with PyTorch names, and the metrics.csv rows of their epochs). best is the
epoch with the best promotion metric (val macro-F1 by default), ties broken by the lower val
loss.
Ctrl-C finishes the current step (or validation batch), writes last/, marks the MLflow run
KILLED and exits with status 130; a second Ctrl-C exits at once, saving unsent MLflow records
to the spool (send them later with deno task mlflow-sync --spool).
`;
