/** The last backup as this host remembers it (a view of `src/state/last-run.ts` for backups). */
import { readLastRun } from "../state/last-run.js";

/** Persisted backup outcome. */
export interface BackupState {
  /** ISO time of the last attempt. */
  lastBackupAt?: string;
  lastBackupOk?: boolean;
  /** ISO time of the last successful backup: the scheduler counts the interval from it. */
  lastSuccessAt?: string;
  /** Name of the last snapshot written. */
  lastSnapshot?: string;
  lastError?: string;
}

/** Reads the backup state (empty when no backup was recorded on this host). */
export async function readBackupState(stateDir: string): Promise<BackupState> {
  const s = await readLastRun(stateDir, "backup");
  return {
    ...(s.lastRunAt ? { lastBackupAt: s.lastRunAt } : {}),
    ...(s.lastRunOk !== undefined ? { lastBackupOk: s.lastRunOk } : {}),
    ...(s.lastSuccessAt ? { lastSuccessAt: s.lastSuccessAt } : {}),
    ...(s.lastResult ? { lastSnapshot: s.lastResult } : {}),
    ...(s.lastError ? { lastError: s.lastError } : {}),
  };
}
