/**
 * The evaluation report: the bundle's files (summary, reports, curves, predictions),
 * its SVG plots and the self-contained `index.html`, built from predictions as bytes.
 * Writing them to disk is the `*_deno.ts` edge.
 *
 * @module
 */
export * from "./plots.ts";
export * from "./summary_metrics.ts";
export * from "./evaluation_bundle.ts";
export * from "./evaluation_index_html.ts";
export * from "./predictions_csv.ts";
