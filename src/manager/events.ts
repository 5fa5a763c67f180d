/**
 * Typed events of {@link import("./workspace-sync.js").WorkspaceSync}, and the status shapes
 * (the plugin's `getBackupManagerStatus` / `getSyncManagerStatus` names plus a few extras).
 */
import type { RunBackupResult } from "../backup/index.js";
import type { WorkspaceSyncError } from "../errors.js";
import type { SyncRunResult } from "../sync/index.js";

/** Why a backup ran. */
export type BackupTrigger = "scheduled" | "manual";
/** Why a sync ran. */
export type SyncTrigger = "scheduled" | "manual" | "session-start" | "session-end";

/** What failed, for `error` listeners. */
export interface ErrorContext {
  operation: "backup" | "sync" | "restore" | "inbox";
  trigger?: BackupTrigger | SyncTrigger;
}

/**
 * Event map. `error` is emitted only when a listener is attached (an unhandled `error` event would
 * otherwise throw); failures are also logged and reported in the `*:done` results either way.
 */
export interface WorkspaceSyncEvents {
  "backup:start": [info: { trigger: BackupTrigger }];
  "backup:done": [info: { trigger: BackupTrigger; result: RunBackupResult }];
  "sync:start": [info: { trigger: SyncTrigger; dryRun: boolean }];
  "sync:done": [info: { trigger: SyncTrigger; dryRun: boolean; result: SyncRunResult }];
  /** A mailbox drain moved files into `_inbox` (names relative to `_inbox`, and the notification text). */
  inbox: [info: { files: string[]; text: string }];
  error: [error: WorkspaceSyncError, context: ErrorContext];
}

/** The plugin's `getBackupManagerStatus()` shape. */
export interface BackupManagerStatus {
  /** True while backups are scheduled (started with backups enabled and an interval > 0). */
  running: boolean;
  /** Start time of the last backup attempt (seeded from the state folder on start). */
  lastBackupAt: Date | null;
  lastBackupOk: boolean | null;
  /** Attempts since the last start (failures included, cancelled runs excluded). */
  backupCount: number;
  /** Failed attempts since the last start. */
  errorCount: number;
}

/** The plugin's `getSyncManagerStatus()` shape. */
export interface SyncManagerStatus {
  /** True while periodic syncs are scheduled (started with sync on, a mode and an interval > 0). */
  running: boolean;
  /** Start time of the last sync run through this manager (dry runs excluded). */
  lastSyncAt: Date | null;
  lastSyncOk: boolean | null;
  /** Runs since the last start (failures included; dry runs and cancelled runs excluded). */
  syncCount: number;
  /** Failed runs since the last start. */
  errorCount: number;
}

/** {@link import("./workspace-sync.js").WorkspaceSync.status} result. */
export interface WorkspaceSyncStatus {
  /** True while anything is scheduled. */
  running: boolean;
  backup: BackupManagerStatus & { inProgress: boolean; nextRunAt: Date | null };
  sync: SyncManagerStatus & { inProgress: boolean; nextRunAt: Date | null };
}

/** What a session hook did. */
export type SessionHookOutcome =
  | { ran: true; result: SyncRunResult }
  | {
      ran: false;
      /** disabled: the hook is off in config; not-configured: sync provider off; no-mode: mode unset; busy: a sync was still running after the wait; stopped: the manager was stopped meanwhile. */
      reason: "disabled" | "not-configured" | "no-mode" | "busy" | "stopped";
    };
