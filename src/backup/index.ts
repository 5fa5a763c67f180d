/** Backup API: the plugin's `runBackup`, `listBackupSnapshots`, `runRestore`, plus helpers. */
export { runBackup, SNAPSHOT_FORMAT_VERSION, type RunBackupParams, type RunBackupResult } from "./run-backup.js";
export { listBackupSnapshots, listSnapshotsIn, type ListBackupSnapshotsParams, type SnapshotListing } from "./list.js";
export { runRestore, resolveSnapshotName, type RunRestoreParams, type RunRestoreResult } from "./restore.js";
export { HELPER_THREAD_MIN_BYTES, type HelperThreadMode } from "./helper-thread.js";
export { readStoredChecksum, openSnapshotPlaintext, explainReadFailure, type OpenSnapshot, type OpenSnapshotOptions } from "./read-snapshot.js";
export { planAuthentication, checkMac, type AuthPlan, type AuthPolicy } from "./authenticate.js";
export { macFileName, formatMacFile, parseMacFile, type MacRecord } from "./auth-file.js";
export { formatSnapshotName, parseSnapshotName, compareNewestFirst, type SnapshotInfo } from "../snapshot/index.js";
export { checksumFileName, formatChecksumFile, parseChecksumFile, formatChecksumClaim, parseChecksumClaim } from "./checksum.js";
export { backupRemotePath, openBackupTarget } from "./target.js";
export { ownedSnapshots, type OwnershipContext } from "./ownership.js";
