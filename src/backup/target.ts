/**
 * Where snapshots live: the backup provider and the folder on it, resolved from the config exactly
 * as the plugin joined them (`bucket` replaces `remotePath`, then `prefix` is appended).
 */
import type { BackupSettings, ResolvedConfig } from "../config/types.js";
import { WorkspaceSyncError } from "../errors.js";
import type { Logger } from "../logger.js";
import { joinRemotePath, openLocation, type ProviderLocation } from "../providers/index.js";
import type { StorageProvider } from "../providers/types.js";

/** Trims leading and trailing slashes, as the plugin's `trimSlashes`. */
function trimSlashes(s: string | undefined): string {
  return (s ?? "").replace(/^\/+|\/+$/g, "");
}

/** The provider path of the snapshot folder, as the plugin joined it. */
export function backupRemotePath(backup: BackupSettings): string {
  const base = trimSlashes(backup.bucket) || trimSlashes(backup.s3?.bucket) || trimSlashes(backup.remotePath);
  return joinRemotePath(base, trimSlashes(backup.prefix));
}

/** The backup section, or a typed error saying how to add one. */
export function requireBackupSettings(config: ResolvedConfig): BackupSettings {
  if (!config.backup) {
    throw new WorkspaceSyncError("BACKUP_NOT_ENABLED", "Backup not configured: add a \"backup\" block to your config", { path: "backup" });
  }
  return config.backup;
}

/**
 * Opens the snapshot folder. `provider`, when given, is used as is, so embedders and tests can pass
 * an instance: it already points at the bucket or folder, and the snapshots go under `prefix` in it.
 */
export async function openBackupTarget(
  backup: BackupSettings,
  ctx: { logger: Logger; stateDir?: string; provider?: StorageProvider },
): Promise<ProviderLocation> {
  if (ctx.provider) return { provider: ctx.provider, dir: joinRemotePath(trimSlashes(backup.prefix)) };
  const remotePath = backupRemotePath(backup);
  const settings = { provider: backup.provider, s3: backup.s3, dropbox: backup.dropbox, local: backup.local };
  return openLocation(settings, remotePath, { logger: ctx.logger, stateDir: ctx.stateDir });
}

/** Options of {@link withBackupTarget}. */
export interface BackupTargetContext {
  logger: Logger;
  stateDir?: string;
  /** Use this provider instead of building one from the config; the caller keeps (and closes) it. */
  provider?: StorageProvider;
}

/**
 * Opens the snapshot folder, runs `fn` on it and closes the provider it opened (in `finally`, so
 * a failed listing or an abort never leaves a client open). A provider passed in is not closed.
 */
export async function withBackupTarget<T>(backup: BackupSettings, ctx: BackupTargetContext, fn: (location: ProviderLocation) => Promise<T>): Promise<T> {
  const location = await openBackupTarget(backup, ctx);
  try {
    return await fn(location);
  } finally {
    if (!ctx.provider) await location.provider.close?.().catch(() => undefined);
  }
}
