/**
 * `runBackup`: walk the include set → tar → gzip → (AES-256-CBC) → provider, as one stream with no
 * temp file. The provider's write is atomic, so a failed backup leaves no snapshot; the SHA-256 of
 * the stored bytes goes into a `<snapshot>.sha256` file beside it (sha256sum format) once the
 * snapshot is complete. Retention runs after a successful upload and never deletes the new snapshot.
 */
import { pipeline } from "node:stream/promises";
import { PassThrough, type Readable } from "node:stream";
import path from "node:path";
import { createArchiveStream, gzipBytesUpperBound, walkIncludeSet } from "../archive/index.js";
import type { BackupSettings } from "../config/types.js";
import { acquireLock } from "../util/run-lock.js";
import { createEncryptStream, createHashStream, kdfToString } from "../crypto/index.js";
import { WorkspaceSyncError, errorMessage, throwIfAborted, toWorkspaceSyncError, type ErrorCode } from "../errors.js";
import { silentLogger, type Logger, type ProgressCallback } from "../logger.js";
import { joinRemotePath } from "../providers/paths.js";
import type { StorageProvider } from "../providers/types.js";
import { pruneSnapshots, type PruneResult } from "../retention/index.js";
import { loadSyncConfig, type ConfigInput } from "./config-input.js";
import { formatSnapshotName, parseSnapshotName } from "./snapshot-name.js";
import { checksumFileName, formatChecksumFile } from "./checksum.js";
import { openBackupTarget, requireBackupSettings } from "./target.js";
import { recordRun } from "../state/last-run.js";

/** Version of the snapshot layout, stored as metadata where the provider keeps metadata. */
export const SNAPSHOT_FORMAT_VERSION = "1";

/** Leftover multipart uploads / temp files older than this are ours and abandoned. */
const STALE_UPLOAD_MS = 24 * 60 * 60 * 1000;

/** Parameters of {@link runBackup} (the plugin's shape plus optional extras). */
export interface RunBackupParams {
  /** The plugin config, nested `{ sync, backup }` or flat, or an already resolved config. */
  syncConfig: ConfigInput;
  /** The agent workspace (`workspace`, `memory`, `skills`, `pages`, `env` items live here). */
  workspaceDir: string;
  /** The agent state folder (`config`, `cron`, `sessions`, … items; also where run state and locks are kept). */
  stateDir: string;
  /** Where log lines go (default: nowhere). */
  logger?: Logger;
  /** Cancels the backup; nothing is left behind. */
  signal?: AbortSignal;
  /** Progress of plain bytes read from the workspace. */
  onProgress?: ProgressCallback;
  /** Use this provider instance instead of building one from the config. */
  provider?: StorageProvider;
  /** Clock used for the snapshot name (default: `new Date()`). */
  now?: () => Date;
  /** Skip retention after the upload (default false). */
  skipPrune?: boolean;
}

/** Result of {@link runBackup}: the plugin's shape plus extras. */
export type RunBackupResult =
  | {
      ok: true;
      snapshotName: string;
      encrypted: boolean;
      /** Bytes stored (ciphertext when encrypted). */
      sizeBytes: number;
      /** Plain bytes of file content read from the include set. */
      plainBytes: number;
      /** SHA-256 (hex) of the stored bytes. */
      sha256: string;
      /** Retention outcome, when it ran. */
      prune?: PruneResult;
      /** Non-fatal findings (files that changed while read, skipped entries). */
      warnings: string[];
    }
  | { ok: false; error: string; code: ErrorCode };

/** Creates one snapshot. Never throws: failures come back as `{ ok: false, error, code }`. */
export async function runBackup(params: RunBackupParams): Promise<RunBackupResult> {
  const logger = params.logger ?? silentLogger;
  const startedAt = (params.now ?? (() => new Date()))();
  let result: RunBackupResult;
  try {
    result = await backupOnce(params, logger, startedAt);
  } catch (err) {
    const e = toWorkspaceSyncError(err);
    logger.error(`[backup] Backup failed: ${e.message}`);
    result = { ok: false, error: e.message, code: e.code };
  }
  if (result.ok || result.code !== "BACKUP_NOT_ENABLED") {
    await recordRun(params.stateDir, "backup", startedAt, result.ok ? { ok: true, result: result.snapshotName } : result).catch((err) => logger.warn(`[backup] Could not record the backup outcome: ${errorMessage(err)}`));
  }
  return result;
}

async function backupOnce(params: RunBackupParams, logger: Logger, startedAt: Date): Promise<RunBackupResult & { ok: true }> {
  const { signal } = params;
  const config = loadSyncConfig(params.syncConfig, logger);
  const backup = requireBackupSettings(config);
  if (!backup.enabled) {
    throw new WorkspaceSyncError("BACKUP_NOT_ENABLED", 'Backup not enabled: set "backup": { "enabled": true, ... } in your config', { path: "backup.enabled" });
  }
  if (backup.encrypt && !backup.passphrase) {
    throw new WorkspaceSyncError("PASSPHRASE_MISSING", "Backup encryption enabled but no passphrase configured: set backup.passphrase (e.g. \"${BACKUP_PASSPHRASE}\")", { path: "backup.passphrase" });
  }
  throwIfAborted(signal);
  // One backup at a time per state folder (other processes included): two in the same second
  // would otherwise race for the same snapshot name after uploading everything.
  const lock = await acquireLock(path.join(params.stateDir, "workspace-sync", "backup"), "backup");
  try {
    return await createSnapshot(params, logger, startedAt, backup);
  } finally {
    await lock.release();
  }
}

async function createSnapshot(params: RunBackupParams, logger: Logger, startedAt: Date, backup: BackupSettings): Promise<RunBackupResult & { ok: true }> {
  const { signal } = params;
  const warnings: string[] = [];
  const warn = (msg: string) => {
    warnings.push(msg);
    logger.warn(`[backup] ${msg}`);
  };
  const walk = await walkIncludeSet({
    include: backup.include,
    exclude: backup.exclude,
    workspaceDir: params.workspaceDir,
    stateDir: params.stateDir,
    signal,
    onWarning: warn,
  });
  logger.info(`[backup] Starting backup: ${walk.sources.map((i) => i.item).join(", ")}`);
  const { provider, dir } = await openBackupTarget(backup, { logger, stateDir: params.stateDir, provider: params.provider });
  try {
    // Only abandoned snapshot uploads are ours: a shared bucket may hold other tools' pending uploads.
    const removed = await provider.cleanupIncomplete(dir, STALE_UPLOAD_MS, {
      signal,
      match: (p) => parseSnapshotName(path.posix.basename(p)) !== undefined,
    });
    if (removed > 0) logger.info(`[backup] Removed ${removed} abandoned partial upload(s)`);
  } catch (err) {
    logger.warn(`[backup] Could not clean up abandoned uploads: ${errorMessage(err)}`);
  }

  const encrypted = backup.encrypt;
  const snapshotName = await freeSnapshotName(provider, dir, startedAt, encrypted, signal);
  const key = joinRemotePath(dir, snapshotName);
  logger.info(`[backup] Streaming to ${provider.description}/${key} (no local temp file needed)`);

  // What was read while packing: the walk's count may differ if files changed in between.
  let plainBytes = walk.totalBytes;
  const archive = createArchiveStream(walk, {
    level: backup.compressionLevel,
    signal,
    onWarning: warn,
    onProgress: (p) => {
      plainBytes = p.bytes;
      params.onProgress?.(p);
    },
  });
  const stages: NodeJS.ReadWriteStream[] = [];
  const metadata: Record<string, string> = {
    "ws-format": SNAPSHOT_FORMAT_VERSION,
    "ws-plain-bytes": String(walk.totalBytes),
    "ws-encrypted": encrypted ? "1" : "0",
  };
  if (encrypted) {
    const enc = createEncryptStream({ passphrase: backup.passphrase as string, iterations: backup.kdfIterations });
    metadata["ws-kdf"] = kdfToString(enc.kdf);
    stages.push(enc);
  }
  const hash = createHashStream({ path: snapshotName });
  const body = new PassThrough({ highWaterMark: 1024 * 1024 });

  // The provider consumes `body` while the pipeline fills it; either side failing fails both.
  const produce = pipeline([archive as Readable, ...stages, hash, body], { signal });
  const store = provider.write(key, body, {
    // Upper bound: gzip of incompressible data grows slightly; encryption adds a header and padding.
    sizeHint: gzipBytesUpperBound(walk.tarBytesUpperBound) + 32,
    metadata,
    overwrite: false,
    signal,
  });
  // A store that fails without draining its input must not leave the producer waiting forever.
  // Which side broke first is decided here, by state, not by the producer's later error: once its
  // output is destroyed that error says nothing about the cause, and its wording differs between
  // Node versions (a premature close on 20 and 22, an iterator TypeError on 24). `body.errored` is
  // set when the producer failed first (the pipeline destroyed `body` with its error), or when the
  // provider destroyed its input with its own error; unset when the store gave up on an intact input.
  let storeFailedFirst = false;
  store.catch((err: unknown) => {
    storeFailedFirst = !body.errored || body.errored === err;
    body.destroy();
  });
  const [produced, stored] = await Promise.allSettled([produce, store]);
  if (produced.status === "rejected" || stored.status === "rejected") {
    body.destroy();
    if (stored.status === "fulfilled") {
      // Should not happen (the store saw a complete stream), but never leave a snapshot from a failed run.
      await provider.delete(key).catch(() => undefined);
    }
    // A cancelled run is reported as cancelled, whichever side noticed first.
    throwIfAborted(signal);
    const producerReason = produced.status === "rejected" ? (produced.reason as unknown) : undefined;
    const storeReason = stored.status === "rejected" ? (stored.reason as unknown) : undefined;
    throw toWorkspaceSyncError(storeFailedFirst || producerReason === undefined ? storeReason : producerReason);
  }
  const sha256 = hash.digest as string;
  const sizeBytes = stored.value.size;
  await provider.write(joinRemotePath(dir, checksumFileName(snapshotName)), bufferStream(formatChecksumFile(sha256, snapshotName)), { signal }).catch((err) => {
    warn(`Could not store the checksum file for ${snapshotName}: ${errorMessage(err)} (the snapshot itself is complete)`);
  });
  logger.info(`[backup] Snapshot uploaded: ${snapshotName} (~${(sizeBytes / 1024 / 1024).toFixed(1)} MB)`);

  let prune: PruneResult | undefined;
  if (!params.skipPrune) {
    // pruneSnapshots logs its own failures; a failed prune never fails the backup.
    prune = await pruneSnapshots({ provider, dir, policy: backup.retain, justWritten: snapshotName, logger, signal });
  }
  return { ok: true, snapshotName, encrypted, sizeBytes, plainBytes, sha256, prune, warnings };
}

/** The snapshot name for `time`, with a `-N` suffix when a snapshot of that second exists. */
async function freeSnapshotName(provider: StorageProvider, dir: string, time: Date, encrypted: boolean, signal?: AbortSignal): Promise<string> {
  for (let seq = 0; seq < 1000; seq++) {
    const name = formatSnapshotName(time, encrypted, seq);
    if (!(await provider.stat(joinRemotePath(dir, name), { signal }))) return name;
  }
  throw new WorkspaceSyncError("ALREADY_EXISTS", "Too many snapshots within one second");
}

function bufferStream(text: string): Readable {
  const s = new PassThrough();
  s.end(Buffer.from(text, "utf8"));
  return s;
}
