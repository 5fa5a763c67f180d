/**
 * The plugin's module-level manager functions (`startBackupManager`, `getSyncManagerStatus`, …) as
 * thin wrappers over one default {@link WorkspaceSync}. Hosts that want several workspaces in one
 * process create their own instances instead; nothing here is shared with them.
 *
 * Each manager has its own default slot, bound to the (config, workspaceDir, stateDir, logger,
 * extras) it was started with, so restarting one manager with other arguments never stops the
 * other (the plugin's managers were independent too). When both were started with the same
 * objects (what the plugin's host does), they share one instance.
 * Each start resets that manager's counters (the plugin leaked them across restarts).
 */
import type { ConfigInput } from "../config/index.js";
import { errorMessage } from "../errors.js";
import { silentLogger, type Logger } from "../logger.js";
import { logNote } from "./messages.js";
import type { SyncRunResult } from "../sync/index.js";
import type { BackupManagerStatus, SyncManagerStatus } from "./events.js";
import { WorkspaceSync, type InboxCallback, type WorkspaceSyncOptions } from "./workspace-sync.js";

/** Extra options of the plugin-shaped start functions (not in the plugin). */
export type ManagerExtras = Pick<WorkspaceSyncOptions, "operations" | "clock" | "stopTimeoutMs" | "hookWaitMs">;

interface DefaultSlot {
  instance: WorkspaceSync;
  config: ConfigInput;
  workspaceDir: string;
  stateDir: string;
  logger: Logger;
  extras: ManagerExtras;
}

function sameExtras(a: ManagerExtras, b: ManagerExtras): boolean {
  return a.operations === b.operations && a.clock === b.clock && a.stopTimeoutMs === b.stopTimeoutMs && a.hookWaitMs === b.hookWaitMs;
}

type Kind = "backup" | "sync";
const slots: Partial<Record<Kind, DefaultSlot>> = {};

/** The default instance behind the plugin-shaped functions (the sync one first), if one was started. */
export function getDefaultWorkspaceSync(): WorkspaceSync | undefined {
  return slots.sync?.instance ?? slots.backup?.instance;
}

function matches(slot: DefaultSlot | undefined, config: ConfigInput, workspaceDir: string, stateDir: string, logger: Logger, extras: ManagerExtras): boolean {
  return !!slot && slot.config === config && slot.workspaceDir === workspaceDir && slot.stateDir === stateDir && slot.logger === logger && sameExtras(slot.extras, extras);
}

async function defaultFor(kind: Kind, config: ConfigInput, workspaceDir: string, stateDir: string, logger: Logger, extras: ManagerExtras = {}): Promise<WorkspaceSync | undefined> {
  const own = slots[kind];
  if (own && matches(own, config, workspaceDir, stateDir, logger, extras)) return own.instance;
  const other = slots[kind === "backup" ? "sync" : "backup"];
  if (own) {
    delete slots[kind];
    // The instance may also serve the other manager: stop only this manager's part then.
    await own.instance.stop(other?.instance === own.instance ? { backup: kind === "backup", sync: kind === "sync" } : undefined);
  }
  if (other && matches(other, config, workspaceDir, stateDir, logger, extras)) {
    slots[kind] = other;
    return other.instance;
  }
  try {
    const instance = new WorkspaceSync({ config, workspaceDir, stateDir, logger, ...extras });
    slots[kind] = { instance, config, workspaceDir, stateDir, logger, extras };
    return instance;
  } catch (err) {
    logNote(logger, { kind: "config-rejected", error: errorMessage(err) });
    return undefined;
  }
}

/** Starts scheduled backups (the plugin's `startBackupManager`); does nothing unless `backup.enabled`. */
export async function startBackupManager(syncConfig: ConfigInput, workspaceDir: string, stateDir: string, logger: Logger = silentLogger, extras?: ManagerExtras): Promise<void> {
  await stopBackupManager();
  const instance = await defaultFor("backup", syncConfig, workspaceDir, stateDir, logger, extras);
  await instance?.start({ backup: true, sync: false });
}

/** Stops scheduled backups, cancelling one in flight. */
export async function stopBackupManager(): Promise<void> {
  await slots.backup?.instance.stop({ backup: true, sync: false });
}

/** The plugin's backup status shape. */
export function getBackupManagerStatus(): BackupManagerStatus {
  const slot = slots.backup;
  if (!slot) return { running: false, lastBackupAt: null, lastBackupOk: null, backupCount: 0, errorCount: 0 };
  const { running, lastBackupAt, lastBackupOk, backupCount, errorCount } = slot.instance.status().backup;
  return { running, lastBackupAt, lastBackupOk, backupCount, errorCount };
}

/** Starts periodic sync (the plugin's `startSyncManager`). */
export async function startSyncManager(
  syncConfig: ConfigInput,
  workspaceDir: string,
  stateDir: string,
  logger: Logger = silentLogger,
  options: { onInboxFiles?: InboxCallback } & ManagerExtras = {},
): Promise<void> {
  await stopSyncManager();
  const { onInboxFiles, ...extras } = options;
  const instance = await defaultFor("sync", syncConfig, workspaceDir, stateDir, logger, extras);
  if (!instance) return;
  instance.onInboxFiles = onInboxFiles;
  await instance.start({ backup: false, sync: true });
}

/** Stops periodic sync, cancelling one in flight. */
export async function stopSyncManager(): Promise<void> {
  await slots.sync?.instance.stop({ backup: false, sync: true });
}

/** The plugin's sync status shape. */
export function getSyncManagerStatus(): SyncManagerStatus {
  const slot = slots.sync;
  if (!slot) return { running: false, lastSyncAt: null, lastSyncOk: null, syncCount: 0, errorCount: 0 };
  const { running, lastSyncAt, lastSyncOk, syncCount, errorCount } = slot.instance.status().sync;
  return { running, lastSyncAt, lastSyncOk, syncCount, errorCount };
}

/**
 * Runs one sync now through the default instance (the plugin's `triggerImmediateSync`). Like the
 * plugin it skips when a sync is already running; resolves with the result, or undefined when
 * skipped or when no manager was started.
 */
export async function triggerImmediateSync(): Promise<SyncRunResult | undefined> {
  const instance = slots.sync?.instance;
  if (!instance) return undefined;
  if (instance.isSyncing()) {
    logNote(instance.logger, { kind: "sync-skipped-busy" });
    return undefined;
  }
  return instance.syncNow();
}
