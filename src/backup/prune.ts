/**
 * `pruneBackup`: applies `backup.retain` to the configured snapshot folder, as `backup prune`
 * does: opens the backup target, runs {@link pruneSnapshots} on it and closes the provider again.
 */
import type { ResolvedConfig } from "../config/types.js";
import { toWorkspaceSyncError } from "../errors.js";
import { silentLogger, type Logger } from "../logger.js";
import type { StorageProvider } from "../providers/types.js";
import { pruneSnapshots, type PruneResult } from "../retention/index.js";
import { ownedSnapshots } from "./ownership.js";
import { requireBackupSettings, withBackupTarget } from "./target.js";

/** Parameters of {@link pruneBackup}. */
export interface PruneBackupParams {
  /** The resolved config (its `backup` block names the folder and the policy). */
  config: ResolvedConfig;
  /** The agent state folder (provider state such as Dropbox cursors). */
  stateDir: string;
  /** Plan and report, but delete nothing. */
  dryRun?: boolean;
  logger?: Logger;
  signal?: AbortSignal;
  /** Use this provider instead of building one from the config; the caller keeps (and closes) it. */
  provider?: StorageProvider;
}

/**
 * Prunes the configured snapshot folder by `backup.retain`. Never throws: no backup block
 * (`BACKUP_NOT_ENABLED`), an unreachable provider or a bad policy come back as `ok: false`, having
 * deleted nothing.
 */
export async function pruneBackup(params: PruneBackupParams): Promise<PruneResult> {
  const logger = params.logger ?? silentLogger;
  try {
    const backup = requireBackupSettings(params.config);
    const ctx = { logger, stateDir: params.stateDir, provider: params.provider };
    return await withBackupTarget(backup, ctx, ({ provider, dir }) =>
      pruneSnapshots({ provider, dir, policy: backup.retain, logger, signal: params.signal, dryRun: params.dryRun ?? false, owned: (snaps, folder) => ownedSnapshots({ provider, dir, backup, signal: params.signal, stateDir: params.stateDir }, snaps, folder) }),
    );
  } catch (err) {
    const e = toWorkspaceSyncError(err);
    return { ok: false, error: e.message, code: e.code };
  }
}
