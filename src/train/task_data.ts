/**
 * One K for the task and the data: the task's number of class names, else the larger of the
 * training and validation files' (largest label + 1).
 *
 * @module
 */
import { type SequenceDataset, withNumClasses } from "../data/sequence_dataset.ts";
import { defaultTask, type Task } from "../metrics/task.ts";

/**
 * The task and the data with one K: the task's number of classes, else the larger of the
 * train and val files' (largest label + 1). A label outside 0..K-1 is an error. Without
 * validation data (`val` absent) K comes from the task or the training data alone.
 */
export function resolveTaskData(
  data: { readonly train: SequenceDataset; readonly val: SequenceDataset; readonly task?: Task },
): { task: Task; train: SequenceDataset; val: SequenceDataset };
export function resolveTaskData(
  data: { readonly train: SequenceDataset; readonly val?: SequenceDataset; readonly task?: Task },
): { task: Task; train: SequenceDataset; val: SequenceDataset | undefined };
export function resolveTaskData(
  data: { readonly train: SequenceDataset; readonly val?: SequenceDataset; readonly task?: Task },
): { task: Task; train: SequenceDataset; val: SequenceDataset | undefined } {
  const k = data.task?.classNames.length ??
    Math.max(data.train.numClasses, data.val?.numClasses ?? 0);
  if (k < 2) {
    throw new RangeError(
      `Cannot train: the labels of the training and validation data hold ${k} class; ` +
        "a classifier needs at least 2 (name them with a task file or --num-classes)",
    );
  }
  const from = data.task ? `the task's ${k} class names` : undefined;
  return {
    task: data.task ?? defaultTask(k),
    train: withNumClasses(data.train, k, "the training data", from),
    val: data.val && withNumClasses(data.val, k, "the validation data", from),
  };
}
