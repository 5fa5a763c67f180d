/**
 * workspace-sync: encrypted streaming backups and folder sync for an AI agent's workspace, in pure
 * Node. Entry points:
 * - backups: {@link runBackup}, {@link listBackupSnapshots}, {@link runRestore}, {@link verifySnapshots}
 * - retention: {@link planRetention}, {@link pruneSnapshots}
 * - sync: {@link runSync}, {@link planSync}
 * - embedding: {@link WorkspaceSync} and the plugin-shaped manager functions
 * - providers: {@link createProvider} and the {@link StorageProvider} interface
 * - config: {@link resolveConfig}, {@link loadConfigFile}
 */
export * from "./errors.js";
export type { Logger, Progress, ProgressCallback } from "./logger.js";
export * from "./config/index.js";
export * from "./backup/index.js";
export { verifySnapshots, type SnapshotVerification, type VerifySnapshotsParams } from "./backup/verify.js";
export * from "./retention/index.js";
export * from "./sync/index.js";
export * from "./manager/index.js";
export * from "./inbox/index.js";
export * from "./providers/index.js";
export { readLastRun, type LastRunState, type RunKind } from "./state/last-run.js";
export {
  createEncryptStream,
  createDecryptStream,
  createHashStream,
  kdfCandidates,
  type KdfSpec,
} from "./crypto/index.js";
export { walkIncludeSet, createArchiveStream, extractArchive } from "./archive/index.js";
