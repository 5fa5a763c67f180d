/**
 * Retention: restic-compatible snapshot retention policies ({@link planRetention}) and safe pruning of
 * a backup folder ({@link pruneSnapshots}). Calendar buckets and durations use UTC.
 */
export { planRetention, sortNewestFirst } from "./plan.js";
export type { RetentionCandidate, RetentionPlan, RetentionPlanOptions } from "./plan.js";
export { planPrune } from "./prune-plan.js";
export type { PrunePlanOptions } from "./prune-plan.js";
export { normalizePolicy, isEmptyPolicy, describePolicy, COUNT_RULES, WITHIN_RULES } from "./policy.js";
export type { RetentionPolicy, PolicyInput, CountRule, WithinRule } from "./policy.js";
export { parseRetentionDuration, formatRetentionDuration, subtractDuration, isZeroDuration } from "./duration.js";
export type { RetentionDuration } from "./duration.js";
export { hourKey, dayKey, isoWeekKey, isoWeek, monthKey, yearKey } from "./buckets.js";
export { hasSidecar, pruneSnapshots } from "./prune.js";
export type { ListedSnapshot, OwnedSnapshots, OwnershipCheck, PruneFailure, PruneOptions, PruneResult } from "./prune.js";
