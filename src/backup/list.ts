/**
 * Listing snapshots: the names in the snapshot folder that parse as snapshots, newest first.
 * Other files (checksum files, foreign `backup-*` names) are never treated as snapshots.
 */
import { toWorkspaceSyncError, type ErrorCode } from "../errors.js";
import { silentLogger, type Logger } from "../logger.js";
import type { StorageProvider } from "../providers/types.js";
import { loadSyncConfig, type ConfigInput } from "../config/index.js";
import { compareNewestFirst, parseSnapshotName, type SnapshotInfo } from "../snapshot/index.js";
import { openBackupTarget, requireBackupSettings } from "./target.js";

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
    const { provider, dir } = await openBackupTarget(backup, { logger, stateDir: params.stateDir, provider: params.provider });
    const details = await listSnapshotsIn(provider, dir, params.signal);
    return { ok: true, snapshots: details.map((d) => d.name), details };
  } catch (err) {
    const e = toWorkspaceSyncError(err);
    return { ok: false, error: e.message, code: e.code };
  }
}
