/**
 * `findSnapshot`: which snapshot a request names, before anything is restored (a front end shows
 * it, a dry run stops there). Opens the backup target, resolves `"latest"` or checks that the
 * named snapshot exists, and closes the provider it opened.
 */
import type { ResolvedConfig } from "../config/types.js";
import { silentLogger, type Logger } from "../logger.js";
import type { StorageProvider } from "../providers/types.js";
import { passedOverWarning, resolveSnapshot } from "./restore.js";
import { requireBackupSettings, withBackupTarget } from "./target.js";

/** Arguments of {@link findSnapshot}. */
export interface FindSnapshotParams {
  config: ResolvedConfig;
  stateDir: string;
  /** `"latest"` (or empty) for the newest, else a snapshot name. */
  snapshotName: string;
  logger?: Logger;
  signal?: AbortSignal;
  /** Use this provider instead of building one from the config; the caller keeps (and closes) it. */
  provider?: StorageProvider;
}

/** The snapshot's name (newer names `"latest"` passed over as not ours are logged as a warning). Throws BACKUP_NOT_ENABLED without a backup block, SNAPSHOT_NOT_FOUND when there is none such. */
export async function findSnapshot(params: FindSnapshotParams): Promise<string> {
  const backup = requireBackupSettings(params.config);
  const ctx = { logger: params.logger ?? silentLogger, stateDir: params.stateDir, provider: params.provider };
  const found = await withBackupTarget(backup, ctx, ({ provider, dir }) => resolveSnapshot(provider, dir, params.snapshotName, params.signal, backup, params.stateDir));
  if (found.passedOver.length > 0) ctx.logger.warn(`[backup] ${passedOverWarning(found.passedOver, found.name)}`);
  return found.name;
}
