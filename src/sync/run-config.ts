/**
 * `runSync`: the config-level entry point. Resolves the raw config (or accepts an already resolved
 * one), builds the provider for the sync settings and runs {@link runSyncWithProvider}.
 */
import { isResolvedConfig, resolveConfig } from "../config/index.js";
import type { ProviderSettings, SyncSettings } from "../config/types.js";
import { WorkspaceSyncError, errorMessage, toWorkspaceSyncError } from "../errors.js";
import { silentLogger, type Logger } from "../logger.js";
import { normalizeRemotePath, openLocation } from "../providers/index.js";
import type { StorageProvider } from "../providers/types.js";
import { MODE_REQUIRED_MESSAGE, runSyncWithProvider, settingsAtStart, type RunSyncWithProviderOptions } from "./run.js";
import { syncFailure, type SyncRunResult } from "./types.js";
import { recordRun } from "../state/last-run.js";

/** Arguments of {@link runSync}. */
export interface RunSyncOptions {
  /** The raw plugin config (flat or nested), or a `ResolvedConfig`. */
  syncConfig: unknown;
  workspaceDir: string;
  stateDir: string;
  logger?: Logger;
  signal?: AbortSignal;
  dryRun?: boolean;
  onInboxFiles?: RunSyncWithProviderOptions["onInboxFiles"];
  /** Environment for `${VAR}` interpolation (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /**
   * Use this provider instead of building one from the config (tests, benchmarks, embedders that
   * wrap a provider). The caller keeps ownership: it is not closed.
   */
  provider?: StorageProvider;
}

/**
 * Runs one sync from config. Never throws: failures come back as `{ ok: false, error }`. Every
 * run that is not a dry run is recorded in `<stateDir>/workspace-sync/last-sync.json` (what
 * `sync status` shows), whoever started it: the CLI, a `WorkspaceSync` or the plugin.
 */
export async function runSync(options: RunSyncOptions): Promise<SyncRunResult> {
  const startedAt = new Date();
  const result = await runSyncOnce(options);
  if (!options.dryRun) {
    const outcome = result.ok ? { ok: true as const, result: `${result.uploaded.length} up, ${result.downloaded.length} down, ${result.deleted.length} deleted` } : result;
    await recordRun(options.stateDir, "sync", startedAt, outcome).catch((err) => (options.logger ?? silentLogger).warn(`[workspace-sync] Could not record the sync outcome: ${errorMessage(err)}`));
  }
  return result;
}

async function runSyncOnce(options: RunSyncOptions): Promise<SyncRunResult> {
  const logger = options.logger ?? silentLogger;
  let settings: SyncSettings;
  try {
    const resolved = isResolvedConfig(options.syncConfig) ? options.syncConfig : resolveConfig(options.syncConfig, { env: options.env });
    // A resolved config may be the host's own object: the run's settings are as they are now.
    settings = settingsAtStart(resolved.sync);
  } catch (err) {
    const error = toWorkspaceSyncError(err, "CONFIG_INVALID");
    logger.error(`[workspace-sync] ${error.message}`);
    return syncFailure(error);
  }
  if (settings.provider === "off") {
    logger.info("[workspace-sync] Workspace sync not configured");
    return syncFailure(syncNotConfigured());
  }
  if (!settings.mode) {
    logger.error(`[workspace-sync] ${MODE_REQUIRED_MESSAGE}`);
    return syncFailure(new WorkspaceSyncError("CONFIG_INVALID", MODE_REQUIRED_MESSAGE, { path: "mode" }));
  }
  const providerSettings: ProviderSettings = { provider: settings.provider, s3: settings.s3, dropbox: settings.dropbox, local: settings.local };
  let location: { provider: StorageProvider; dir: string };
  try {
    location = options.provider
      ? { provider: options.provider, dir: folderOnProvider(settings) }
      : await openLocation(providerSettings, settings.remotePath, { logger, stateDir: options.stateDir });
  } catch (err) {
    const error = toWorkspaceSyncError(err, "CONFIG_INVALID");
    logger.error(`[workspace-sync] ${error.message}`);
    return syncFailure(error);
  }
  try {
    return await runSyncWithProvider({
      settings: { ...settings, remotePath: location.dir },
      provider: location.provider,
      workspaceDir: options.workspaceDir,
      stateDir: options.stateDir,
      logger,
      signal: options.signal,
      dryRun: options.dryRun,
      onInboxFiles: options.onInboxFiles,
    });
  } finally {
    if (!options.provider) await location.provider.close?.().catch(() => undefined);
  }
}

/** The folder inside the provider that `remotePath` names (for S3 without the bucket, as `openLocation` does). */
function folderOnProvider(settings: SyncSettings): string {
  const dir = normalizeRemotePath(settings.remotePath);
  if (settings.provider !== "s3") return dir;
  const bucket = settings.s3?.bucket ? normalizeRemotePath(settings.s3.bucket) : "";
  if (bucket) return dir === bucket ? "" : dir.startsWith(`${bucket}/`) ? dir.slice(bucket.length + 1) : dir;
  return dir.split("/").slice(1).join("/");
}

/** The error for a sync run or listing while `provider` is "off". */
export function syncNotConfigured(): WorkspaceSyncError {
  return new WorkspaceSyncError("CONFIG_INVALID", 'Workspace sync is not configured: set "provider" (local, s3 or dropbox) in the sync config', { path: "provider" });
}
