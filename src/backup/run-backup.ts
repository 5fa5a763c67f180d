/**
 * `runBackup`: walk the include set → tar → gzip → (authentication mark → AES-256-CBC → MAC) →
 * provider, as one stream with no temp file. Before uploading, the backup claims its snapshot name
 * by creating `<snapshot>.sha256` create-only, so two writers sharing a folder never pick the same
 * name (the one that finds it taken moves on to the next suffix). The provider's write is atomic,
 * so a failed backup leaves no snapshot (and its claim is removed). Once the snapshot is complete,
 * `<snapshot>.mac` (encrypted snapshots: the MAC over the stored bytes and the identity, see
 * `crypto/mac.ts`) and the SHA-256 of the stored bytes (sha256sum format, replacing the claim) are
 * written beside it. Retention runs after a successful upload and never deletes the new snapshot.
 */
import { pipeline } from "node:stream/promises";
import { PassThrough, type Readable } from "node:stream";
import path from "node:path";
import { promises as fsp } from "node:fs";
import { readJsonFile, writeJsonFileAtomic } from "../util/json-file.js";
import { createArchiveStream, gzipBytesUpperBound, walkIncludeSet } from "../archive/index.js";
import type { BackupSettings } from "../config/types.js";
import { acquireLock } from "../util/run-lock.js";
import { randomBytes } from "node:crypto";
import {
  createEncryptStream,
  createHashStream,
  createMacStream,
  deriveMacKeys,
  kdfToString,
  MAC_SALT_LENGTH,
  prependAuthMarker,
  snapshotMac,
  snapshotNameTag,
  type MacKeys,
} from "../crypto/index.js";
import { WorkspaceSyncError, errorMessage, throwIfAborted, toWorkspaceSyncError, type ErrorCode } from "../errors.js";
import { silentLogger, type Logger, type ProgressCallback } from "../logger.js";
import { joinRemotePath } from "../providers/paths.js";
import type { StorageProvider } from "../providers/types.js";
import { ownedSnapshots } from "./ownership.js";
import { pruneSnapshots, type PruneResult } from "../retention/index.js";
import { loadSyncConfig, type ConfigInput } from "../config/index.js";
import { formatSnapshotName, parseSnapshotName } from "../snapshot/index.js";
import { CHECKSUM_SUFFIX } from "../snapshot/index.js";
import { checksumFileName, formatChecksumClaim, formatChecksumFile, parseChecksumClaim } from "./checksum.js";
import { formatMacFile, macFileName } from "./auth-file.js";
import { newClaimId, readSmallFile } from "./authenticate.js";
import { openBackupTarget, requireBackupSettings } from "./target.js";
import { recordRun } from "../state/last-run.js";

/**
 * Version of the snapshot layout, stored as metadata where the provider keeps metadata and bound
 * by the MAC. 2: encrypted snapshots start with the authentication mark and have a `.mac` file.
 */
export const SNAPSHOT_FORMAT_VERSION = "2";

/** Leftover multipart uploads / temp files older than this are ours and abandoned. */
const STALE_UPLOAD_MS = 24 * 60 * 60 * 1000;

/**
 * A claim this old is removed even where its backup's partial upload could not be looked at (it is
 * then left to the bucket's lifecycle rule), so that claims do not pile up where the credentials
 * cannot list pending uploads.
 */
const GIVE_UP_ON_UPLOAD_MS = 7 * STALE_UPLOAD_MS;

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
      /** Entries left out on purpose, with the reason (names that are not valid UTF-8); each is also a warning. */
      skipped?: { path: string; reason: string }[];
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
  // Closed however the backup ends (an S3 client keeps sockets, a Dropbox batcher a timer); a provider passed in stays open.
  try {
    try {
      // Temp files that carry this install's token (`tempFileKind`) are provably ours, and removed
      // once a day old. Leftovers that carry no owner (S3 multipart uploads: a shared bucket holds
      // other tools' pending uploads, named like snapshots or not) are removed only with the claim
      // of the backup that left them (removeOwnDeadClaim, removeStaleClaims), never by name.
      if (provider.tempFileKind) {
        const removed = await provider.cleanupIncomplete(dir, STALE_UPLOAD_MS, {
          signal,
          match: (p) => parseSnapshotName(path.posix.basename(p)) !== undefined,
        });
        if (removed > 0) logger.info(`[backup] Removed ${removed} abandoned partial upload(s)`);
      }
    } catch (err) {
      logger.warn(`[backup] Could not clean up abandoned uploads: ${errorMessage(err)}`);
    }

    const claimRecord = path.join(params.stateDir, "workspace-sync", "backup-claim.json");
    // A dead backup's snapshot stored without its MAC file goes only once this one is stored.
    const { dead, unresolved } = await removeOwnDeadClaim(provider, claimRecord, logger, signal);
    await removeStaleClaims(provider, dir, logger, signal);

    const encrypted = backup.encrypt;
    // The MAC key derivation (PBKDF2, on the thread pool) overlaps with claiming the name.
    const macSalt = randomBytes(MAC_SALT_LENGTH);
    const macKeys: Promise<MacKeys> | undefined = encrypted ? deriveMacKeys(backup.passphrase as string, macSalt, backup.kdfIterations) : undefined;
    macKeys?.catch(() => undefined); // reported where awaited
    const claimId = newClaimId();
    /** This backup's record, with the dead backups' snapshots and claims still to be removed. */
    const record = (own: { claimId?: string; name?: string }) => writeJsonFileAtomic(claimRecord, { provider: provider.description, dir, ...own, dead, unresolved });
    // Recorded first: if this process dies, the next backup from this state folder (which then holds
    // the lock, so this one is gone) removes exactly this claim instead of waiting a day.
    await record({ claimId });
    const { snapshotName } = await claimSnapshotName(provider, dir, startedAt, encrypted, claimId, signal);
    // The name claimed, recorded: only a snapshot of that name can be this backup's if it dies
    // (the claim id is in storage in clear; a claim line copied beside another name is not ours).
    await record({ claimId, name: snapshotName });
    const key = joinRemotePath(dir, snapshotName);
    const claimKey = joinRemotePath(dir, checksumFileName(snapshotName));
    try {
      const result = await uploadSnapshot();
      // Claims of dead backups not yet resolved stay for the next backup.
      if (unresolved.length > 0) await writeJsonFileAtomic(claimRecord, { unresolved });
      else await fsp.rm(claimRecord, { force: true });
      return result;
    } catch (err) {
      // Nothing of a failed backup stays: its claim goes too (the snapshot was never stored, or was
      // removed), once no partial upload of its name is left (the provider aborts its own, but that
      // request may have failed). Where that cannot be made sure of, the claim and its record stay,
      // as a dead backup's: the next backup from this state folder removes both.
      if (!(await abortedUploadsOf(provider, dir, snapshotName, 0, logger))) throw err;
      await provider.delete(claimKey).then(
        () => (dead.length > 0 || unresolved.length > 0 ? record({}) : fsp.rm(claimRecord, { force: true })),
        (e: unknown) => logger.warn(`[backup] Could not remove the name claim ${checksumFileName(snapshotName)}: ${errorMessage(e)}`),
      );
      throw err;
    }

    async function uploadSnapshot(): Promise<RunBackupResult & { ok: true }> {
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
      let kdf: string | undefined;
      let mac: ReturnType<typeof createMacStream> | undefined;
      let keys: MacKeys | undefined;
      if (encrypted) {
        const enc = createEncryptStream({ passphrase: backup.passphrase as string, iterations: backup.kdfIterations });
        kdf = kdfToString(enc.kdf);
        metadata["ws-kdf"] = kdf;
        keys = await (macKeys as Promise<MacKeys>);
        mac = createMacStream(keys);
        // The mark goes into the plaintext, before the archive; the MAC over what is stored.
        stages.push(prependAuthMarker(), enc, mac);
      }
      const hash = createHashStream({ path: snapshotName });
      const body = new PassThrough({ highWaterMark: 1024 * 1024 });

      // The provider consumes `body` while the pipeline fills it; either side failing fails both.
      const produce = pipeline([archive as Readable, ...stages, hash, body], { signal });
      const store = provider.write(key, body, {
        // Upper bound: gzip of incompressible data grows slightly; encryption adds a header, the mark and padding.
        sizeHint: gzipBytesUpperBound(walk.tarBytesUpperBound) + 96,
        metadata,
        overwrite: false,
        signal,
      });
      // A store that fails without draining its input must not leave the producer waiting forever.
      // (Destroyed without an error: the pipeline then fails with a premature close, and the store's own
      // error is what gets reported below.)
      store.catch(() => body.destroy());
      const [produced, stored] = await Promise.allSettled([produce, store]);
      if (produced.status === "rejected" || stored.status === "rejected") {
        body.destroy();
        // The first failure explains it: a store error (network, disk) breaks the producer's pipe with a
        // "premature close", and a producer error (unreadable file, abort) breaks the store's input.
        const producerReason = produced.status === "rejected" ? (produced.reason as unknown) : undefined;
        const storeReason = stored.status === "rejected" ? (stored.reason as unknown) : undefined;
        const prematureClose = (producerReason as NodeJS.ErrnoException | undefined)?.code === "ERR_STREAM_PREMATURE_CLOSE";
        const reason = producerReason === undefined || (storeReason !== undefined && prematureClose) ? storeReason : producerReason;
        if (stored.status === "fulfilled") {
          // Should not happen (the store saw a complete stream), but never leave a snapshot from a failed run.
          await provider.delete(key).catch(() => undefined);
        }
        throw toWorkspaceSyncError(reason);
      }
      const sha256 = hash.digest as string;
      const sizeBytes = stored.value.size;
      if (mac && keys && kdf) {
        // The MAC binds the name finally used, the creation time, the format and the size.
        const identity = { name: snapshotName, created: startedAt.toISOString(), format: SNAPSHOT_FORMAT_VERSION, kdf, size: mac.bytes };
        const record = {
          ...identity,
          macIterations: backup.kdfIterations,
          salt: macSalt.toString("hex"),
          passphraseCheck: keys.check.toString("hex"),
          mac: snapshotMac(keys, identity, mac.tag as Buffer),
          nameTag: snapshotNameTag(keys, identity),
        };
        try {
          await provider.write(joinRemotePath(dir, macFileName(snapshotName)), bufferStream(formatMacFile(record)), { signal });
        } catch (err) {
          // A snapshot without its MAC would be refused by every restore: remove it, report the failure.
          await provider.delete(key).catch(() => undefined);
          throw new WorkspaceSyncError("PROVIDER_ERROR", `Could not store the MAC file of ${snapshotName}, so the snapshot was removed again: ${errorMessage(err)}`, {
            path: macFileName(snapshotName),
            cause: err,
            retryable: toWorkspaceSyncError(err).retryable,
          });
        }
      }
      await provider.write(claimKey, bufferStream(formatChecksumFile(sha256, snapshotName)), { signal }).catch((err) => {
        warn(`Could not store the checksum file for ${snapshotName}: ${errorMessage(err)} (the snapshot itself is complete${encrypted ? " and authenticated" : ""})`);
      });
      logger.info(`[backup] Snapshot uploaded: ${snapshotName} (~${(sizeBytes / 1024 / 1024).toFixed(1)} MB)${encrypted ? ", MAC stored" : ""}`);
      await removeDeadSnapshots(provider, dead, logger, signal);

      let prune: PruneResult | undefined;
      if (!params.skipPrune) {
        // pruneSnapshots logs its own failures; a failed prune never fails the backup.
        prune = await pruneSnapshots({ provider, dir, policy: backup.retain, justWritten: snapshotName, logger, signal, owned: (snaps, folder) => ownedSnapshots({ provider, dir, backup, signal, stateDir: params.stateDir }, snaps, folder) });
      }
      return { ok: true, snapshotName, encrypted, sizeBytes, plainBytes, sha256, prune, warnings, ...(walk.skipped?.length ? { skipped: walk.skipped } : {}) };
    }
  } finally {
    if (!params.provider) await provider.close?.().catch(() => undefined);
  }
}

/**
 * Finds a free snapshot name for `time` and claims it: `-N` suffixes after the time when a snapshot
 * of that second exists or another writer (another host, another state folder) claimed the name
 * first. The claim is `<name>.sha256` created create-only (atomic on every provider), holding a
 * claim line until the real checksum replaces it.
 */
async function claimSnapshotName(
  provider: StorageProvider,
  dir: string,
  time: Date,
  encrypted: boolean,
  claimId: string,
  signal?: AbortSignal,
): Promise<{ snapshotName: string; claimId: string }> {
  for (let seq = 0; seq < 1000; seq++) {
    const name = formatSnapshotName(time, encrypted, seq);
    if (await provider.stat(joinRemotePath(dir, name), { signal })) continue;
    try {
      await provider.write(joinRemotePath(dir, checksumFileName(name)), bufferStream(formatChecksumClaim(claimId, new Date())), { overwrite: false, signal });
    } catch (err) {
      if (toWorkspaceSyncError(err).code === "ALREADY_EXISTS") continue; // another writer's claim, or an old checksum file
      throw err;
    }
    return { snapshotName: name, claimId };
  }
  throw new WorkspaceSyncError("ALREADY_EXISTS", "Too many snapshots within one second");
}

/**
 * A dead backup's snapshot stored without its MAC file (or checksum), and its name claim (keys),
 * on the provider (`description`) the claim was found on, with the claim's id.
 */
interface DeadSnapshot {
  provider: string;
  snapshot: string;
  claim: string;
  claimId: string;
}

/**
 * Removes the name claim of a backup from this state folder that died (its record is still there
 * while this backup holds the lock): only the claim file whose content carries the recorded id.
 * A snapshot it stored under that name is that backup's too (the id says so, not the name): one
 * with its MAC file is complete and authenticated and stays; one without (it died before writing
 * its MAC file, or, unencrypted, its checksum) is not restored by "latest" nor counted by
 * retention, and a failed backup leaves no snapshot: it is returned (with its claim, and those
 * the record carried over from an earlier dead backup) to be removed once this backup's own
 * snapshot is stored ({@link removeDeadSnapshots}), never before. A claim that could not be looked
 * at (a read error) is returned as `unresolved` and tried again by the next backup. The record is
 * rewritten with what is left before this returns, so a stop after it loses nothing.
 */
async function removeOwnDeadClaim(provider: StorageProvider, record: string, logger: Logger, signal?: AbortSignal): Promise<{ dead: DeadSnapshot[]; unresolved: DeadClaim[] }> {
  const rec = await readJsonFile<{ provider?: unknown; dir?: unknown; claimId?: unknown; dead?: unknown; name?: unknown; unresolved?: unknown }>(record).catch(() => undefined);
  if (!rec) return { dead: [], unresolved: [] };
  const dead: DeadSnapshot[] = Array.isArray(rec.dead)
    ? rec.dead.filter((d): d is DeadSnapshot => typeof d?.provider === "string" && typeof d?.snapshot === "string" && typeof d?.claim === "string" && typeof d?.claimId === "string")
    : [];
  const claims: DeadClaim[] = Array.isArray(rec.unresolved) ? rec.unresolved.filter(isDeadClaim) : [];
  const own = { provider: rec.provider, dir: rec.dir, claimId: rec.claimId, ...(rec.name === undefined ? {} : { name: rec.name }) };
  if (isDeadClaim(own)) claims.unshift(own);
  const unresolved: DeadClaim[] = [];
  for (const c of claims) {
    // A claim on another provider (the config changed since) is not looked for here, nor kept.
    if (c.provider !== provider.description) continue;
    try {
      await removeDeadClaim(provider, c, dead, logger, signal);
    } catch (err) {
      // Stopped: the record stays as it is for the next backup (this one claims nothing).
      throwIfAborted(signal);
      logger.warn(`[backup] Could not remove the name claim of an interrupted backup (tried again by the next backup): ${errorMessage(err)}`);
      unresolved.push(c);
    }
  }
  // What is left to do is written back at once: this backup may yet be stopped before it records its own claim.
  const left = unresolved.slice(-MAX_UNRESOLVED_CLAIMS);
  if (dead.length > 0 || left.length > 0) await writeJsonFileAtomic(record, { dead, unresolved: left });
  else await fsp.rm(record, { force: true });
  return { dead, unresolved: left };
}

/** A dead backup's claim, as its record names it. */
interface DeadClaim {
  provider: string;
  dir: string;
  claimId: string;
  /** The name it claimed (recorded once claimed; missing in records of older versions). */
  name?: string;
}

/** Dead backups' claims whose removal failed, kept for the next backup (the latest ones). */
const MAX_UNRESOLVED_CLAIMS = 16;

function isDeadClaim(v: unknown): v is DeadClaim {
  const c = v as Partial<DeadClaim> | null;
  return typeof c?.provider === "string" && typeof c.dir === "string" && typeof c.claimId === "string" && (c.name === undefined || typeof c.name === "string");
}

/**
 * Removes dead backup `c`'s claim files on this provider (see {@link removeOwnDeadClaim}), adding
 * the snapshot it stored without its MAC file to `dead`. Throws where it could not look.
 */
async function removeDeadClaim(provider: StorageProvider, c: DeadClaim, dead: DeadSnapshot[], logger: Logger, signal?: AbortSignal): Promise<void> {
  for await (const entry of provider.list(c.dir, { recursive: false, signal })) {
    if (!entry.path.endsWith(CHECKSUM_SUFFIX)) continue;
    const snapshot = entry.path.slice(0, -CHECKSUM_SUFFIX.length);
    if (!parseSnapshotName(snapshot)) continue;
    const key = joinRemotePath(c.dir, entry.path);
    const claim = parseChecksumClaim((await readSmallFile(provider, key, signal)) ?? "");
    if (claim?.claimId !== c.claimId) continue;
    const snapshotKey = joinRemotePath(c.dir, snapshot);
    if (await provider.stat(snapshotKey, { signal })) {
      // Not the name that backup recorded as claimed (a claim line copied beside another snapshot), or
      // complete and authenticated (only its checksum is missing): not a dead backup's to remove.
      if (c.name !== snapshot) continue;
      if (await provider.stat(joinRemotePath(c.dir, macFileName(snapshot)), { signal })) continue;
      if (!dead.some((d) => d.snapshot === snapshotKey && d.claimId === c.claimId)) dead.push({ provider: provider.description, snapshot: snapshotKey, claim: key, claimId: c.claimId });
      continue;
    }
    // Not stored: its upload in progress when it died, if any, of the name it recorded (its upload
    // starts after that record), whatever its age; the lock says that backup is gone. Where that
    // cannot be made sure of, the claim stays, for the pass over claims a day old.
    if (c.name === snapshot && !(await abortedUploadsOf(provider, c.dir, snapshot, 0, logger, signal))) continue;
    await provider.delete(key, { signal });
    logger.info(`[backup] Removed the name claim of an interrupted backup: ${entry.path}`);
  }
}

/**
 * Removes dead backups' snapshots (see {@link removeOwnDeadClaim}) on this provider, while their
 * claim file still holds the dead backup's claim and they still have no MAC file, and their claims.
 */
async function removeDeadSnapshots(provider: StorageProvider, dead: readonly DeadSnapshot[], logger: Logger, signal?: AbortSignal): Promise<void> {
  for (const d of dead) {
    try {
      if (d.provider !== provider.description) continue;
      if (parseChecksumClaim((await readSmallFile(provider, d.claim, signal)) ?? "")?.claimId !== d.claimId) continue;
      if (await provider.stat(macFileName(d.snapshot), { signal })) continue;
      await provider.delete(d.snapshot, { signal });
      await provider.delete(d.claim, { signal });
      logger.info(`[backup] Removed the snapshot of an interrupted backup (stored without its ${d.snapshot.endsWith(".enc") ? "MAC file" : "checksum"}): ${d.snapshot}`);
    } catch (err) {
      logger.warn(`[backup] Could not remove the snapshot of an interrupted backup ${d.snapshot}: ${errorMessage(err)}`);
    }
  }
}

/**
 * Removes name claims left by backups that died more than a day ago: only checksum files whose
 * content is a claim line (never decided by the name alone) and whose snapshot does not exist.
 */
async function removeStaleClaims(provider: StorageProvider, dir: string, logger: Logger, signal?: AbortSignal): Promise<void> {
  try {
    const names = new Set<string>();
    for await (const entry of provider.list(dir, { recursive: false, signal })) names.add(entry.path);
    for (const n of names) {
      if (!n.endsWith(CHECKSUM_SUFFIX)) continue;
      const snapshot = n.slice(0, -CHECKSUM_SUFFIX.length);
      if (!parseSnapshotName(snapshot) || names.has(snapshot)) continue;
      const claim = parseChecksumClaim((await readSmallFile(provider, joinRemotePath(dir, n), signal)) ?? "");
      const age = claim ? Date.now() - claim.since.getTime() : 0;
      if (!claim || age < STALE_UPLOAD_MS) continue;
      // Its time is the claim's own word, which anyone who can write to the storage can set: only
      // uploads of that name the server says are a day old are aborted, so another writer's fresh
      // upload of a name beside a forged claim is kept. The claim goes a day later (its upload,
      // started moments after it, was then a day old at the last pass), or once a week old where
      // uploads cannot be looked at (no permission to list them): claims never pile up.
      const aborted = await abortedUploadsOf(provider, dir, snapshot, STALE_UPLOAD_MS, logger, signal);
      if (age < 2 * STALE_UPLOAD_MS || (!aborted && age < GIVE_UP_ON_UPLOAD_MS)) continue;
      await provider.delete(joinRemotePath(dir, n), { signal });
      logger.info(`[backup] Removed the claim of an abandoned backup: ${n}`);
    }
  } catch (err) {
    throwIfAborted(signal);
    logger.warn(`[backup] Could not clean up abandoned name claims: ${errorMessage(err)}`);
  }
}

/**
 * Aborts the partial uploads (S3 multipart uploads, the local provider's temp files) of exactly
 * `dir`/`name` the server says were started more than `olderThanMs` ago (`0`: whatever their
 * age): called only for a name a backup's claim says was being written by a backup now dead or
 * failed. True when done; where the uploads could not be looked at, logged and false; a stop thrown.
 */
async function abortedUploadsOf(provider: StorageProvider, dir: string, name: string, olderThanMs: number, logger: Logger, signal?: AbortSignal): Promise<boolean> {
  try {
    await provider.cleanupIncomplete(dir, olderThanMs, { ...(signal ? { signal } : {}), match: (p) => p === name });
    return true;
  } catch (err) {
    throwIfAborted(signal);
    logger.warn(`[backup] Could not look for a partial upload of ${name} left by an interrupted backup (its claim stays for now): ${errorMessage(err)}`);
    return false;
  }
}

function bufferStream(text: string): Readable {
  const s = new PassThrough();
  s.end(Buffer.from(text, "utf8"));
  return s;
}
