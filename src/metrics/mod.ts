/**
 * Classification metrics and curves with scikit-learn's semantics: confusion matrix,
 * accuracy, F1, tasks (class names, cost matrix, promotion metric) and decision rules, ROC
 * and precision-recall curves, reliability and temperature scaling. Pure functions of labels
 * and probabilities; they import nothing.
 *
 * @module
 */
export * from "./metrics.ts";
export * from "./roc_curve.ts";
export * from "./precision_recall_curve.ts";
export * from "./reliability.ts";
export * from "./one_vs_rest.ts";
export * from "./task.ts";
export * from "./calibration.ts";
