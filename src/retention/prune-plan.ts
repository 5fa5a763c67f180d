/**
 * The pruning decision: {@link planRetention} plus the safety keeps that pruning adds on top of
 * restic's rules. Pure; {@link pruneSnapshots} does the I/O.
 */
import { planRetention, setReasons, sortNewestFirst, type RetentionCandidate, type RetentionPlan, type RetentionPlanOptions } from "./plan.js";
import type { PolicyInput } from "./policy.js";

/** Options of {@link planPrune}. */
export interface PrunePlanOptions extends RetentionPlanOptions {
  /** Name of the snapshot this run just wrote: always kept (reason `"just written"`). */
  justWritten?: string;
}

/**
 * Plans which snapshots to delete: restic's policy, then two overrides that only ever keep more —
 * the snapshot just written (`"just written"`) and the newest snapshot (`"newest snapshot"`) are never
 * pruned, so pruning never deletes everything. Lists are newest first.
 * @throws {WorkspaceSyncError} `CONFIG_INVALID` for an invalid or empty policy.
 */
export function planPrune<T extends RetentionCandidate>(snapshots: readonly T[], policy: PolicyInput, options: PrunePlanOptions = {}): RetentionPlan<T> {
  const plan = planRetention(snapshots, policy, options.now ? { now: options.now } : {});
  const keepAlso = (name: string | undefined, reason: string): void => {
    if (name === undefined) return;
    const i = plan.prune.findIndex((s) => s.name === name);
    if (i < 0) return;
    const [snap] = plan.prune.splice(i, 1) as [T];
    plan.keep.push(snap);
    setReasons(plan.reasons, name, [...(plan.reasons[name] ?? []), reason]);
  };
  keepAlso(options.justWritten, "just written");
  keepAlso(sortNewestFirst(snapshots)[0]?.name, "newest snapshot");
  return { keep: sortNewestFirst(plan.keep), prune: plan.prune, reasons: plan.reasons };
}
