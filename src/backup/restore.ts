/**
 * `runRestore`: provider → SHA-256 check → (decrypt, KDF auto-detected) → gunzip → untar into a
 * staging folder that must be empty or new. Live data is never touched; on any failure (wrong
 * passphrase, corruption, checksum mismatch, disk full, abort) the staging folder is removed again.
 */
import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { extractArchive } from "../archive/index.js";
import { createDecryptStream, createHashStream, kdfCandidates, kdfToString, pbkdf2Kdf } from "../crypto/index.js";
import { WorkspaceSyncError, errorMessage, toWorkspaceSyncError, type ErrorCode } from "../errors.js";
import { silentLogger, type Logger, type ProgressCallback } from "../logger.js";
import { joinRemotePath } from "../providers/paths.js";
import type { StorageProvider } from "../providers/types.js";
import type { BackupSettings } from "../config/types.js";
import { checksumFileName, parseChecksumFile } from "./checksum.js";
import { loadSyncConfig, type ConfigInput } from "./config-input.js";
import { listSnapshotsIn } from "./list.js";
import { openBackupTarget, requireBackupSettings } from "./target.js";

/** Parameters of {@link runRestore}. */
export interface RunRestoreParams {
  /** The plugin config (nested or flat) or a resolved config. */
  syncConfig: ConfigInput;
  /** The agent workspace (not written to: restores go to `restoreTo`). */
  workspaceDir: string;
  /** The agent state folder (default staging folder parent). */
  stateDir: string;
  /** A snapshot name, or `"latest"`. */
  snapshotName: string;
  /** Staging folder (must be empty or new). Default `<stateDir>/.backup-restore/<snapshot>`. */
  restoreTo?: string;
  /** Where log lines go (default: nowhere). */
  logger?: Logger;
  /** Cancels the restore; the staging folder is removed again. */
  signal?: AbortSignal;
  /** Bytes read from the provider so far. */
  onProgress?: ProgressCallback;
  /** Use this provider instance instead of building one from the config. */
  provider?: StorageProvider;
  /**
   * Symlinks in the snapshot that point outside the restore folder: `"refuse"` (default: the
   * restore fails naming the entry), `"skip"` (left out, with a warning) or `"allow"` (recreated as
   * they were; extraction still never writes through a link).
   */
  externalSymlinks?: "refuse" | "skip" | "allow";
}

/** Result of {@link runRestore}. */
export type RunRestoreResult =
  | {
      ok: true;
      snapshotName: string;
      restoredTo: string;
      /** Whether a stored checksum was found and matched. */
      verified: boolean;
      /** Key derivation that decrypted the snapshot (e.g. `pbkdf2-sha256:100000`), when encrypted. */
      kdf?: string;
    }
  | { ok: false; error: string; code: ErrorCode };

/** Restores one snapshot into a staging folder. Never throws. */
export async function runRestore(params: RunRestoreParams): Promise<RunRestoreResult> {
  const logger = params.logger ?? silentLogger;
  try {
    return await restoreOnce(params, logger);
  } catch (err) {
    const e = toWorkspaceSyncError(err);
    logger.error(`[backup] Restore failed: ${e.message}`);
    return { ok: false, error: e.message, code: e.code };
  }
}

/** Resolves `"latest"` or checks that a named snapshot exists. */
export async function resolveSnapshotName(provider: StorageProvider, dir: string, requested: string, signal?: AbortSignal): Promise<string> {
  if (requested === "latest" || requested === "") {
    const [newest] = await listSnapshotsIn(provider, dir, signal);
    if (!newest) throw new WorkspaceSyncError("SNAPSHOT_NOT_FOUND", `No snapshots found in ${provider.description}/${dir}: run "workspace-sync backup now" first`);
    return newest.name;
  }
  if (requested.includes("/") || requested.includes("\\") || requested === "." || requested === "..") {
    throw new WorkspaceSyncError("SNAPSHOT_NOT_FOUND", `Invalid snapshot name ${JSON.stringify(requested)}: use a name from "workspace-sync backup list"`, { path: requested });
  }
  if (!(await provider.stat(joinRemotePath(dir, requested), { signal }))) {
    throw new WorkspaceSyncError("SNAPSHOT_NOT_FOUND", `Snapshot ${requested} not found in ${provider.description}/${dir}: see "workspace-sync backup list"`, { path: requested });
  }
  return requested;
}

/** The stored checksum of a snapshot, or `undefined` when none was stored. */
export async function readStoredChecksum(provider: StorageProvider, dir: string, snapshotName: string, signal?: AbortSignal): Promise<string | undefined> {
  const key = joinRemotePath(dir, checksumFileName(snapshotName));
  if (!(await provider.stat(key, { signal }))) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of await provider.read(key, { signal })) {
    chunks.push(chunk as Buffer);
    if (chunks.length > 16) break; // a checksum file is tiny; never buffer something else
  }
  return parseChecksumFile(Buffer.concat(chunks).toString("utf8"));
}

/**
 * Streams the stored bytes of a snapshot through the checksum check and the decrypt stage,
 * returning the gzip stream and a promise that settles when the whole snapshot was read and checked.
 */
export async function openSnapshotPlaintext(
  provider: StorageProvider,
  dir: string,
  snapshotName: string,
  backup: BackupSettings,
  opts: { signal?: AbortSignal; onBytes?: (n: number) => void },
): Promise<{ plain: Readable; done: Promise<void>; expected: string | undefined; kdf: () => string | undefined }> {
  const encrypted = snapshotName.endsWith(".enc");
  if (encrypted && !backup.passphrase) {
    throw new WorkspaceSyncError("PASSPHRASE_MISSING", `Snapshot ${snapshotName} is encrypted but no passphrase is configured: set backup.passphrase`, { path: "backup.passphrase" });
  }
  const expected = await readStoredChecksum(provider, dir, snapshotName, opts.signal);
  const source = await provider.read(joinRemotePath(dir, snapshotName), { signal: opts.signal });
  const hash = createHashStream({ expected, path: snapshotName });
  if (opts.onBytes) hash.on("data", () => opts.onBytes?.(hash.bytes));
  const decrypt = encrypted
    ? createDecryptStream({ passphrase: backup.passphrase as string, candidates: kdfCandidates(pbkdf2Kdf(backup.kdfIterations)), path: snapshotName })
    : undefined;
  const plain = new PassThrough({ highWaterMark: 1024 * 1024 });
  const stages: NodeJS.ReadWriteStream[] = decrypt ? [hash, decrypt] : [hash];
  const done = pipeline([source, ...stages, plain], { signal: opts.signal });
  return { plain, done, expected, kdf: () => (decrypt?.kdf ? kdfToString(decrypt.kdf) : undefined) };
}

async function restoreOnce(params: RunRestoreParams, logger: Logger): Promise<RunRestoreResult & { ok: true }> {
  const { signal } = params;
  const backup = requireBackupSettings(loadSyncConfig(params.syncConfig, logger));
  const { provider, dir } = await openBackupTarget(backup, { logger, stateDir: params.stateDir, provider: params.provider });
  const snapshotName = await resolveSnapshotName(provider, dir, params.snapshotName, signal);
  const restoredTo = path.resolve(params.restoreTo ?? path.join(params.stateDir, ".backup-restore", snapshotName));
  logger.info(`[backup] Restoring snapshot: ${snapshotName}`);

  const created = await prepareTarget(restoredTo, logger);
  // Extract into a hidden folder inside the target (same disk, so a mount point works) and move
  // the entries up at the end: a restore killed midway leaves only that marked folder, which the
  // next restore into the same place removes.
  const partial = path.join(restoredTo, `${PARTIAL_PREFIX}${randomBytes(4).toString("hex")}`);
  const { plain, done, expected, kdf } = await openSnapshotPlaintext(provider, dir, snapshotName, backup, {
    signal,
    onBytes: params.onProgress ? (bytes) => params.onProgress?.({ phase: "restore", bytes }) : undefined,
  });
  logger.info(`[backup] Streaming restore to ${restoredTo} (no local temp file needed)`);
  const extracted = extractArchive(plain, partial, {
    signal,
    externalSymlinks: params.externalSymlinks,
    onWarning: (m) => logger.warn(`[backup] ${m}`),
  });
  const [read, wrote] = await Promise.allSettled([done, extracted]);
  if (read.status === "rejected" || wrote.status === "rejected") {
    plain.destroy();
    await fsp.rm(partial, { recursive: true, force: true }).catch((err) => logger.warn(`[backup] Could not clean up ${partial}: ${errorMessage(err)}`));
    if (created) await fsp.rmdir(restoredTo).catch(() => undefined);
    // Reading/decrypting explains an extraction failure better than the other way round, except
    // for an unsafe entry or a full disk, which are the extractor's own findings.
    const readErr = read.status === "rejected" ? toWorkspaceSyncError(read.reason) : undefined;
    const writeErr = wrote.status === "rejected" ? toWorkspaceSyncError(wrote.reason) : undefined;
    const primary =
      writeErr && ["UNSAFE_ARCHIVE_ENTRY", "INSUFFICIENT_SPACE", "TARGET_NOT_EMPTY", "ACCESS_DENIED"].includes(writeErr.code)
        ? writeErr
        : readErr ?? writeErr;
    throw primary as WorkspaceSyncError;
  }
  for (const name of await fsp.readdir(partial)) {
    await fsp.rename(path.join(partial, name), path.join(restoredTo, name)).catch((err) => {
      throw toWorkspaceSyncError(err);
    });
  }
  await fsp.rmdir(partial);
  if (!expected) logger.warn(`[backup] No checksum stored for ${snapshotName}: restored without integrity check`);
  logger.info(`[backup] Restore complete: ${snapshotName} → ${restoredTo}`);
  const usedKdf = kdf();
  return { ok: true, snapshotName, restoredTo, verified: expected !== undefined, ...(usedKdf ? { kdf: usedKdf } : {}) };
}

/** Name prefix of the folder a restore extracts into before moving entries into place. */
const PARTIAL_PREFIX = ".ws-restore-partial-";

/**
 * Makes sure the target is new or empty (leftovers of an interrupted restore, and nothing else, are
 * removed): a restore never mixes with existing files. Returns whether the folder was created.
 */
async function prepareTarget(dir: string, logger: Logger): Promise<boolean> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOTDIR") {
      throw new WorkspaceSyncError("TARGET_NOT_EMPTY", `Restore target ${dir} is a file: choose a new or empty folder with --to`, { path: dir });
    }
    if (code !== "ENOENT") throw toWorkspaceSyncError(err);
    await fsp.mkdir(dir, { recursive: true }).catch((e) => {
      throw toWorkspaceSyncError(e);
    });
    return true;
  }
  if (names.length > 0 && names.every((n) => n.startsWith(PARTIAL_PREFIX))) {
    logger.warn(`[backup] Removing what an interrupted restore left in ${dir}`);
    for (const n of names) await fsp.rm(path.join(dir, n), { recursive: true, force: true });
    return false;
  }
  if (names.length > 0) {
    throw new WorkspaceSyncError("TARGET_NOT_EMPTY", `Restore target ${dir} is not empty: choose a new or empty folder with --to`, { path: dir });
  }
  return false;
}
