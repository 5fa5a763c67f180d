/**
 * The long-running operations a manager starts, behind one injectable object so hosts and tests
 * can substitute slow, failing or instrumented versions. The defaults are the library's own.
 */
import { runBackup, runRestore, type RunBackupParams, type RunBackupResult, type RunRestoreParams, type RunRestoreResult } from "../backup/index.js";
import { runSync, type RunSyncOptions, type SyncRunResult } from "../sync/index.js";

/** What a {@link import("./workspace-sync.js").WorkspaceSync} runs. Every function must not throw (a throw is logged and counted as a failure). */
export interface WorkspaceSyncOperations {
  /** Creates one snapshot (default: `runBackup` from `src/backup`). */
  runBackup: (params: RunBackupParams) => Promise<RunBackupResult>;
  /** Runs one sync in the configured mode (default: `runSync` from `src/sync`). */
  runSync: (options: RunSyncOptions) => Promise<SyncRunResult>;
  /** Restores one snapshot into a staging folder (default: `runRestore` from `src/backup`). */
  runRestore: (params: RunRestoreParams) => Promise<RunRestoreResult>;
}

/** The library's own operations. */
export const defaultOperations: Readonly<WorkspaceSyncOperations> = Object.freeze({ runBackup, runSync, runRestore });
