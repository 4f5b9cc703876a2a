/**
 * The promote job: finds the run, gathers its evidence, asks whether the plots were
 * inspected, applies the promotion policy and, when it passes, installs the run's best
 * checkpoint and records the promotion in the registry (version, alias, who/when/why).
 * The store and the two side effects (asking, installing) are injected, so the CLI and a
 * page can share it.
 *
 * @module
 */
import { lowerIsBetter } from "../metrics/task.ts";
import {
  decidePromotion,
  type PromotionDecision,
  promotionMetricLabel,
} from "../review/promotion_decision.ts";
import {
  describeArtifact,
  downloadCheckpointArtifact,
  gatherPromotionEvidence,
  type PromotionCase,
  registerPromotion,
  type RegistryTarget,
} from "../review/promotion.ts";
import { resolveRun } from "../review/run_review.ts";
import type { TrackingStore } from "../tracking/tracking_store.ts";

/** Which run to promote, and the record of why. */
export interface PromoteRequest {
  /** The run by id, or by name within `experiment`. */
  readonly run: { readonly runId?: string; readonly runName?: string };
  readonly experiment: string;
  readonly registry: RegistryTarget;
  /** The user already confirmed the plots were inspected. */
  readonly inspected: boolean;
  /** Why; "" = a summary of the numbers. */
  readonly reason: string;
  readonly user: string;
  /** The run's checkpoint folder; "" = the first of the usual places that holds files. */
  readonly checkpointArtifact: string;
}

/** The job's side effects. */
export interface PromoteIo {
  /** Asks whether the plots at `where` were inspected (only when not confirmed already). */
  confirmInspected(where: string): boolean | Promise<boolean>;
  /** Installs the checkpoint's files (relative path -> bytes); returns where. */
  installCheckpoint(
    files: ReadonlyMap<string, Uint8Array>,
  ): Promise<{ best: string; previous: string | null }>;
  /** The time of the promotion (default now). */
  now?: () => Date;
}

/** What {@link promoteRun} decided and did. */
export type PromoteOutcome =
  & { readonly promotion: PromotionCase; readonly decision: PromotionDecision }
  & (
    | { readonly promoted: false }
    | {
      readonly promoted: true;
      readonly version: string;
      /** The run's checkpoint folder that was installed and registered. */
      readonly checkpointPath: string;
      readonly installed: { best: string; previous: string | null };
    }
  );

/** Promotes a run when the policy allows it; a refusal is an outcome, not an error. */
export async function promoteRun(
  store: TrackingStore,
  request: PromoteRequest,
  io: PromoteIo,
): Promise<PromoteOutcome> {
  const run = await resolveRun(store, request.experiment, request.run);
  const promotion = await gatherPromotionEvidence(store, run, request.registry);
  const e = promotion.evidence;
  if (request.inspected) e.inspected = true;
  else if (e.bundlePath !== null) {
    // The pipeline's bundles have no index.html: point at the folder (its plots) then.
    const page = e.bundleFiles.includes("index.html") ? "/index.html" : "";
    e.inspected = await io.confirmInspected(
      describeArtifact(run.info, `${e.bundlePath}${page}`, store.location),
    );
  }
  const decision = decidePromotion(e);
  if (!decision.promote) return { promotion, decision, promoted: false };
  const checkpoint = await downloadCheckpointArtifact(
    store,
    run.info.runId,
    request.checkpointArtifact || undefined,
  );
  const installed = await io.installCheckpoint(checkpoint.files);
  const now = (io.now ?? (() => new Date()))();
  const metric = e.metric ?? "val_macro_f1";
  const fmt = (v: number | null) =>
    v === null ? "n/a" : lowerIsBetter(metric) ? String(Math.round(v)) : v.toFixed(4);
  const version = await registerPromotion(
    store,
    promotion,
    decision,
    checkpoint.path,
    request.registry,
    {
      user: request.user,
      when: now.toISOString(),
      reason: request.reason ||
        `${promotionMetricLabel(metric)} ${fmt(e.value)} beats ${
          e.champion ? `champion version ${e.champion.version}` : "no previous champion"
        } and always-majority ${fmt(e.baseline)}`,
    },
  );
  return {
    promotion,
    decision,
    promoted: true,
    version,
    checkpointPath: checkpoint.path,
    installed,
  };
}
