/**
 * Safe pruning of old snapshots in one provider folder: list, check which are ours, plan with
 * {@link planRetention}, delete. Only files whose names parse as snapshot names and that are
 * provably ours (by what is stored with them, {@link PruneOptions.owned}) are ever candidates; the
 * newest snapshot and the one just written always stay; a failed listing deletes nothing.
 */
import { WorkspaceSyncError, abortError, type ErrorCode, errorMessage, throwIfAborted, toWorkspaceSyncError } from "../errors.js";
import { silentLogger, type Logger } from "../logger.js";
import type { StorageProvider } from "../providers/types.js";
import { joinRemotePath } from "../providers/paths.js";
import { SIDECAR_SUFFIXES, parseSnapshotName, type SnapshotInfo } from "../snapshot/index.js";
import { printableName as printable, shortList } from "../util/printable.js";
import { planPrune } from "./prune-plan.js";
import { describePolicy, normalizePolicy, type PolicyInput, type RetentionPolicy } from "./policy.js";

/** The snapshot a sidecar name belongs to, or `undefined` when `name` is not a sidecar name. */
function sidecarOf(name: string): string | undefined {
  for (const suffix of SIDECAR_SUFFIXES) {
    if (name.endsWith(suffix) && parseSnapshotName(name.slice(0, -suffix.length))) return name.slice(0, -suffix.length);
  }
  return undefined;
}

/** A snapshot found in the folder. */
export interface ListedSnapshot extends SnapshotInfo {
  /** Size in bytes as listed. */
  size: number;
}

/** Listed snapshots sorted into ours and the rest (see {@link PruneOptions.owned}). */
export interface OwnedSnapshots {
  owned: ListedSnapshot[];
  /**
   * Each with why it is not counted as ours (shown to the user); `checkFailed` when its check
   * failed (a read error), not its proof; `unverified` when only a whole check (a download) can
   * tell (a MAC file without a name tag, not yet verified on this host); `afterAuthenticated`
   * when it has no MAC file and an older snapshot of ours has one.
   */
  notOurs: { name: string; reason: string; checkFailed?: boolean; unverified?: boolean; afterAuthenticated?: boolean }[];
}

/**
 * Decides which listed `snapshots` are ours by what is stored with them, never by their names;
 * `folder` holds every name listed in the snapshot folder.
 */
export type OwnershipCheck = (snapshots: readonly ListedSnapshot[], folder: ReadonlySet<string>) => Promise<OwnedSnapshots>;

/**
 * The check without a passphrase: a snapshot is counted when a checksum or MAC file of its name
 * is beside it (ours always are). It tells other tools' look-alike names apart, not a name
 * planted by someone who can write to the storage: `runBackup` and `pruneBackup` check each
 * snapshot by its MAC file and the passphrase (`ownedSnapshots` in the backup module).
 */
export const hasSidecar: OwnershipCheck = async (snapshots, folder) => {
  const out: OwnedSnapshots = { owned: [], notOurs: [] };
  for (const s of snapshots) {
    if (SIDECAR_SUFFIXES.some((suffix) => folder.has(s.name + suffix))) out.owned.push(s);
    else out.notOurs.push({ name: s.name, reason: "it has no checksum or MAC file beside it" });
  }
  return out;
};

/** Options of {@link pruneSnapshots}. */
export interface PruneOptions {
  provider: StorageProvider;
  /** Folder holding the snapshots (`""` = provider root). Listed non-recursively. */
  dir: string;
  /** The `backup.retain` setting (or a normalised policy). */
  policy: PolicyInput;
  /** Name (or path) of the snapshot this run just wrote: never deleted, even if the policy would drop it. */
  justWritten?: string;
  logger?: Logger;
  signal?: AbortSignal;
  /** Plan and log, but delete nothing. */
  dryRun?: boolean;
  /** Current time for the `within*` rules (default: now). */
  now?: Date;
  /**
   * Which snapshots are ours (default {@link hasSidecar}): the others are neither kept nor
   * deleted, and are reported in `notOurs`. A name alone never makes a file ours to delete.
   */
  owned?: OwnershipCheck;
}

/** A file that could not be deleted. */
export interface PruneFailure {
  name: string;
  /** What went wrong (never contains secrets). */
  error: string;
  code: ErrorCode;
}

/** The outcome of {@link pruneSnapshots}. */
export type PruneResult =
  | {
      ok: true;
      /** Snapshots kept, newest first. */
      keep: ListedSnapshot[];
      /** Snapshots planned for deletion, newest first (in a dry run: the ones that would be deleted). */
      prune: ListedSnapshot[];
      /** File names actually deleted (snapshots and their sidecars). Empty in a dry run. */
      deleted: string[];
      /** Files whose deletion failed. */
      failed: PruneFailure[];
      /** Why each kept snapshot was kept (see {@link planRetention}), plus `"just written"` / `"newest snapshot"` safety keeps. */
      reasons: Record<string, string[]>;
      /** Files in the folder that are not snapshots (nor sidecars of listed snapshots): never touched. */
      ignored: string[];
      /** Snapshot names that are not provably ours (see {@link PruneOptions.owned}), with why: never touched, not counted. */
      notOurs: { name: string; reason: string }[];
      /** The policy applied. */
      policy: RetentionPolicy;
      dryRun: boolean;
    }
  | {
      ok: false;
      /** What went wrong; nothing was deleted. */
      error: string;
      code: ErrorCode;
      /** The key or path involved, e.g. `backup.retain.daily` for a bad policy. */
      path?: string;
    };

/** How many ignored names the warning spells out before summarising. */
const MAX_LISTED_IGNORED = 20;

/**
 * Applies the retention policy to the snapshots in `dir` on `provider` and deletes the rest.
 * Returns `ok: false` (having deleted nothing) when the policy is invalid, the listing fails or the
 * signal fires before deleting starts. Individual delete failures are reported in `failed` and logged,
 * never thrown.
 */
export async function pruneSnapshots(options: PruneOptions): Promise<PruneResult> {
  const { provider, dir, signal, dryRun = false } = options;
  const logger = options.logger ?? silentLogger;

  let policy: RetentionPolicy;
  try {
    policy = normalizePolicy(options.policy);
  } catch (err) {
    logger.warn(`[backup] Not pruning: ${errorMessage(err)}`);
    return failure(err);
  }
  if (signal?.aborted) return failure(abortError(signal.reason));

  // 1. List. Any failure means "unknown", never "empty": delete nothing.
  const names: { name: string; size: number }[] = [];
  try {
    for await (const entry of provider.list(dir, { recursive: false, signal })) {
      if (entry.path.includes("/")) continue; // defensive: only files directly in dir
      names.push({ name: entry.path, size: entry.size });
    }
    throwIfAborted(signal);
  } catch (err) {
    const error = toWorkspaceSyncError(err);
    logger.warn(`[backup] Could not list snapshots for pruning: ${error.message}`);
    return failure(error);
  }

  // 2. Sort the listing into snapshots, their sidecars, and everything else.
  const present = new Set(names.map((n) => n.name));
  const snapshots: ListedSnapshot[] = [];
  const ignored: string[] = [];
  for (const { name, size } of names) {
    const info = parseSnapshotName(name);
    if (info) snapshots.push({ ...info, size });
    else if (!present.has(sidecarOf(name) ?? "\0")) {
      ignored.push(name);
    }
  }
  if (ignored.length > 0) {
    logger.warn(`[backup] Ignoring ${ignored.length} file(s) in the backup folder that are not snapshot names (never pruned): ${shortList(ignored.map(printable), MAX_LISTED_IGNORED)}`);
  }

  // 3. Only snapshots provably ours count, kept or deleted; the one just written is.
  const justWritten = options.justWritten ? baseName(options.justWritten) : undefined;
  const checked = snapshots.filter((s) => s.name !== justWritten);
  let verdicts: OwnedSnapshots;
  try {
    verdicts = await (options.owned ?? hasSidecar)(checked, present);
    throwIfAborted(signal);
  } catch (err) {
    const error = toWorkspaceSyncError(err);
    logger.warn(`[backup] Could not check which snapshots are ours: ${error.message}`);
    return failure(error);
  }
  const ours = verdicts.owned;
  const notOurs = verdicts.notOurs;
  if (justWritten) {
    // It exists even if an eventually consistent listing does not show it yet.
    const parsed = parseSnapshotName(justWritten);
    const info = snapshots.find((s) => s.name === justWritten) ?? (parsed && { ...parsed, size: 0 });
    if (info) ours.push(info);
  }
  if (notOurs.length > 0) {
    const shown = shortList(notOurs.map((n) => `${printable(n.name)} (${printable(n.reason)})`), MAX_LISTED_IGNORED);
    logger.warn(`[backup] Not counting ${notOurs.length} snapshot name(s) that are not provably ours (never pruned): ${shown}`);
  }

  // 4. Plan (restic's rules plus the safety keeps).
  const plan = planPrune(ours, policy, { justWritten, ...(options.now ? { now: options.now } : {}) });
  const { keep, prune } = plan;

  logger.debug?.(`[backup] Retention policy: ${describePolicy(policy)}`);
  const base = { ok: true as const, keep, prune, reasons: plan.reasons, ignored, notOurs, policy, dryRun };
  if (prune.length === 0) {
    logger.debug?.(`[backup] Nothing to prune, keeping ${keep.length} snapshot(s)`);
    return { ...base, deleted: [], failed: [] };
  }
  if (dryRun) {
    logger.info(`[backup] Dry run: would prune ${prune.length} old snapshot(s), keeping ${keep.length}`);
    for (const s of prune) logger.info(`[backup] Would delete: ${s.name}`);
    return { ...base, deleted: [], failed: [] };
  }
  if (signal?.aborted) {
    return failure(abortError(signal.reason));
  }

  // 5. Delete the planned snapshots and their sidecars.
  logger.info(`[backup] Pruning ${prune.length} old snapshot(s), keeping ${keep.length}`);
  const targets: string[] = [];
  const failedByName = new Map<string, WorkspaceSyncError>();
  // Snapshots first, then the sidecars of those that are gone.
  const snapshotNames = prune.map((s) => s.name);
  await deleteNames(snapshotNames);
  const sidecars: string[] = [];
  for (const s of prune) {
    if (failedByName.has(s.name)) continue;
    for (const suffix of SIDECAR_SUFFIXES) if (present.has(s.name + suffix)) sidecars.push(s.name + suffix);
  }
  if (sidecars.length > 0) await deleteNames(sidecars);

  async function deleteNames(names: string[]): Promise<void> {
    targets.push(...names);
    const pathOf = new Map(names.map((name) => [joinRemotePath(dir, name), name]));
    try {
      const failures = await provider.deleteMany([...pathOf.keys()], { signal });
      for (const f of failures) failedByName.set(pathOf.get(f.path) ?? baseName(f.path), toWorkspaceSyncError(f.error));
    } catch (err) {
      // deleteMany should not throw (an abort may make it); find out what is still there.
      const error = toWorkspaceSyncError(err);
      for (const [p, name] of pathOf) {
        const still = await provider.stat(p).then((e) => e !== undefined, () => true);
        if (still) failedByName.set(name, error);
      }
    }
  }
  const deleted: string[] = [];
  const failed: PruneFailure[] = [];
  for (const name of targets) {
    const error = failedByName.get(name);
    if (error) {
      failed.push({ name, error: error.message, code: error.code });
      logger.warn(`[backup] Failed to delete ${name}: ${errorMessage(error)}`);
    } else {
      deleted.push(name);
      logger.info(`[backup] Deleted: ${name}`);
    }
  }
  return { ...base, deleted, failed };
}

function failure(err: unknown): { ok: false; error: string; code: ErrorCode; path?: string } {
  const e = toWorkspaceSyncError(err);
  return e.path === undefined ? { ok: false, error: e.message, code: e.code } : { ok: false, error: e.message, code: e.code, path: e.path };
}

function baseName(p: string): string {
  const i = p.lastIndexOf("/");
  return i < 0 ? p : p.slice(i + 1);
}
