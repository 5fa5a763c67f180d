/**
 * Background managers for embedding in an agent host: the {@link WorkspaceSync} class (backups
 * and periodic sync on chained timers, session hooks, typed events) and the plugin's module-level
 * functions over one default instance.
 *
 * Time: every timer goes through an injectable {@link Clock} (`systemClock` by default). Tests and
 * hosts that drive time themselves pass a {@link ManualClock}; `pendingTimers()` on it proves that
 * `stop()` left nothing armed. The real clock's timers are not unref'd: a started manager keeps its
 * host alive until `stop()`, which clears them.
 */
export { WorkspaceSync, DEFAULT_HOOK_WAIT_MS, DEFAULT_STOP_TIMEOUT_MS, type WorkspaceSyncOptions, type ManagerParts, type InboxCallback } from "./workspace-sync.js";
export type {
  BackupManagerStatus,
  SyncManagerStatus,
  WorkspaceSyncStatus,
  WorkspaceSyncEvents,
  BackupTrigger,
  SyncTrigger,
  ErrorContext,
  SessionHookOutcome,
} from "./events.js";
export { defaultOperations, type WorkspaceSyncOperations } from "./operations.js";
export { systemClock, ManualClock, type Clock, type TimerHandle } from "./clock.js";
export {
  decideInterval,
  clampWarning,
  firstBackupDelay,
  DEFAULT_BACKUP_INTERVAL_S,
  MIN_BACKUP_INTERVAL_S,
  MIN_SYNC_INTERVAL_S,
  BACKUP_START_DELAY_MS,
  SYNC_START_DELAY_MS,
  type IntervalDecision,
} from "./schedule.js";
export {
  startBackupManager,
  stopBackupManager,
  getBackupManagerStatus,
  startSyncManager,
  stopSyncManager,
  getSyncManagerStatus,
  triggerImmediateSync,
  getDefaultWorkspaceSync,
  type ManagerExtras,
} from "./plugin-api.js";
