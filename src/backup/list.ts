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
import { requireBackupSettings, withBackupTarget } from "./target.js";

/** A snapshot as listed: its parsed name plus what the provider reports. */
export interface SnapshotListing extends SnapshotInfo {
  /** Stored size in bytes. */
  size: number;
}

/** Lists the snapshots in `dir` on `provider`, newest first. Throws when listing fails. */
export async function listSnapshotsIn(provider: StorageProvider, dir: string, signal?: AbortSignal): Promise<SnapshotListing[]> {
  const out: SnapshotListing[] = [];
  for await (const entry of provider.list(dir, { recursive: false, signal })) {
    const info = parseSnapshotName(entry.path);
    if (info) out.push({ ...info, size: entry.size });
  }
  return out.sort(compareNewestFirst);
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
  /** Rules of `backup.retain` that keep it, e.g. `["daily 1"]`; empty when it would be pruned. */
  keptBy: string[];
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
 * Snapshots newest first, each with the `backup.retain` rules that keep it: what `backup list`
 * shows. An invalid policy does not fail the listing: it is logged as a warning and no snapshot
 * names a rule. Never throws.
 */
export async function listSnapshotsWithRetention(
  params: ListSnapshotsWithRetentionParams,
): Promise<{ ok: true; snapshots: RetainedSnapshot[] } | { ok: false; error: string; code: ErrorCode }> {
  const logger = params.logger ?? silentLogger;
  const listed = await listBackupSnapshots({ syncConfig: params.config, stateDir: params.stateDir, logger, signal: params.signal, provider: params.provider });
  if (!listed.ok) return listed;
  let reasons: Record<string, string[]> = {};
  try {
    reasons = planPrune(listed.details, requireBackupSettings(params.config).retain).reasons;
  } catch (err) {
    logger.warn(`retention policy: ${errorMessage(err)}`);
  }
  return { ok: true, snapshots: listed.details.map((d) => ({ ...d, keptBy: reasons[d.name] ?? [] })) };
}
