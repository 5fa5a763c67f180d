/**
 * Listing snapshots: the names in the snapshot folder that parse as snapshots, newest first.
 * Other files (checksum files, foreign `backup-*` names) are never treated as snapshots.
 */
import { errorMessage, toWorkspaceSyncError, type ErrorCode } from "../errors.js";
import { silentLogger, type Logger } from "../logger.js";
import type { StorageProvider } from "../providers/types.js";
import { loadSyncConfig, type ConfigInput } from "../config/index.js";
import type { ResolvedConfig } from "../config/types.js";
import { planPrune } from "../retention/index.js";
import { compareNewestFirst, parseSnapshotName, type SnapshotInfo } from "../snapshot/index.js";
import { ownedSnapshots } from "./ownership.js";
import { requireBackupSettings, withBackupTarget } from "./target.js";

/** A snapshot as listed: its parsed name plus what the provider reports. */
export interface SnapshotListing extends SnapshotInfo {
  /** Stored size in bytes. */
  size: number;
}

/** Lists the snapshots in `dir` on `provider`, newest first. Throws when listing fails. */
export async function listSnapshotsIn(provider: StorageProvider, dir: string, signal?: AbortSignal): Promise<SnapshotListing[]> {
  return (await listSnapshotFolder(provider, dir, signal)).snapshots;
}

/** The snapshots in `dir` (newest first) and every name there (sidecars, other files). Throws when listing fails. */
export async function listSnapshotFolder(provider: StorageProvider, dir: string, signal?: AbortSignal): Promise<{ snapshots: SnapshotListing[]; names: Set<string> }> {
  const snapshots: SnapshotListing[] = [];
  const names = new Set<string>();
  for await (const entry of provider.list(dir, { recursive: false, signal })) {
    names.add(entry.path);
    const info = parseSnapshotName(entry.path);
    if (info) snapshots.push({ ...info, size: entry.size });
  }
  return { snapshots: snapshots.sort(compareNewestFirst), names };
}

/** Parameters of {@link listBackupSnapshots}. */
export interface ListBackupSnapshotsParams {
  /** The plugin config (nested or flat) or a resolved config. */
  syncConfig: ConfigInput;
  /** The agent state folder (provider state such as Dropbox cursors). */
  stateDir: string;
  /** Where log lines go (default: nowhere). */
  logger?: Logger;
  /** Cancels the listing. */
  signal?: AbortSignal;
  /** Use this provider instance instead of building one from the config. */
  provider?: StorageProvider;
}

/** The plugin's `listBackupSnapshots`: snapshot names newest first, plus details. */
export async function listBackupSnapshots(
  params: ListBackupSnapshotsParams,
): Promise<{ ok: true; snapshots: string[]; details: SnapshotListing[] } | { ok: false; error: string; code: ErrorCode }> {
  const logger = params.logger ?? silentLogger;
  try {
    const backup = requireBackupSettings(loadSyncConfig(params.syncConfig, logger));
    const ctx = { logger, stateDir: params.stateDir, provider: params.provider };
    const details = await withBackupTarget(backup, ctx, ({ provider, dir }) => listSnapshotsIn(provider, dir, params.signal));
    return { ok: true, snapshots: details.map((d) => d.name), details };
  } catch (err) {
    const e = toWorkspaceSyncError(err);
    return { ok: false, error: e.message, code: e.code };
  }
}

/** A listed snapshot with the retention rules that keep it (empty: the next prune deletes it). */
export interface RetainedSnapshot extends SnapshotListing {
  /** Rules of `backup.retain` that keep it, e.g. `["daily 1"]`; empty when it would be pruned (or is not ours). */
  keptBy: string[];
  /** Why it is not counted as ours, when it is not (see `pruneSnapshots`' `owned`): a prune never deletes it. */
  notOurs?: string;
}

/** Parameters of {@link listSnapshotsWithRetention}. */
export interface ListSnapshotsWithRetentionParams {
  /** The resolved config (its `backup` block names the folder and the policy). */
  config: ResolvedConfig;
  /** The agent state folder (provider state such as Dropbox cursors). */
  stateDir: string;
  logger?: Logger;
  signal?: AbortSignal;
  /** Use this provider instead of building one from the config; the caller keeps (and closes) it. */
  provider?: StorageProvider;
}

/**
 * Snapshots newest first, each with the `backup.retain` rules that keep it, as a prune counts them
 * (only snapshots provably ours; the others say why not): what `backup list` shows. An invalid
 * policy does not fail the listing: it is logged as a warning and no snapshot names a rule. Never
 * throws.
 */
export async function listSnapshotsWithRetention(
  params: ListSnapshotsWithRetentionParams,
): Promise<{ ok: true; snapshots: RetainedSnapshot[] } | { ok: false; error: string; code: ErrorCode }> {
  const logger = params.logger ?? silentLogger;
  try {
    const backup = requireBackupSettings(params.config);
    const ctx = { logger, stateDir: params.stateDir, provider: params.provider };
    const { snapshots, notOurs } = await withBackupTarget(backup, ctx, async ({ provider, dir }) => {
      const folder = await listSnapshotFolder(provider, dir, params.signal);
      const verdicts = await ownedSnapshots({ provider, dir, backup, signal: params.signal, stateDir: params.stateDir }, folder.snapshots, folder.names);
      return { snapshots: folder.snapshots, notOurs: new Map(verdicts.notOurs.map((n) => [n.name, n.reason])) };
    });
    let reasons: Record<string, string[]> = {};
    try {
      reasons = planPrune(
        snapshots.filter((d) => !notOurs.has(d.name)),
        backup.retain,
      ).reasons;
    } catch (err) {
      logger.warn(`retention policy: ${errorMessage(err)}`);
    }
    return {
      ok: true,
      snapshots: snapshots.map((d) => {
        const why = notOurs.get(d.name);
        return { ...d, keptBy: reasons[d.name] ?? [], ...(why === undefined ? {} : { notOurs: why }) };
      }),
    };
  } catch (err) {
    const e = toWorkspaceSyncError(err);
    return { ok: false, error: e.message, code: e.code };
  }
}
