/**
 * The manager's run counters (what `status()` reports besides the lanes' state). They belong to
 * one instance: `start()` resets them for the part it starts, `stop()` keeps them. Cancelled runs
 * and dry runs are not counted.
 */
import type { BackupManagerStatus, SyncManagerStatus } from "./events.js";

/** Backup counters. */
export type BackupStats = Omit<BackupManagerStatus, "running">;
/** Sync counters. */
export type SyncStats = Omit<SyncManagerStatus, "running">;

export const emptyBackupStats = (): BackupStats => ({ lastBackupAt: null, lastBackupOk: null, backupCount: 0, errorCount: 0 });
export const emptySyncStats = (): SyncStats => ({ lastSyncAt: null, lastSyncOk: null, syncCount: 0, errorCount: 0 });

/** Counts one finished backup that started at `startedAt` (epoch ms). */
export function countBackup(stats: BackupStats, startedAt: number, ok: boolean): void {
  stats.lastBackupAt = new Date(startedAt);
  stats.backupCount++;
  stats.lastBackupOk = ok;
  if (!ok) stats.errorCount++;
}

/** Counts one finished sync that started at `startedAt` (epoch ms). */
export function countSync(stats: SyncStats, startedAt: number, ok: boolean): void {
  stats.lastSyncAt = new Date(startedAt);
  stats.syncCount++;
  stats.lastSyncOk = ok;
  if (!ok) stats.errorCount++;
}
