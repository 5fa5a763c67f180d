/**
 * `runRestore`: provider → MAC check (SHA-256 for unauthenticated snapshots) → (decrypt, KDF
 * auto-detected) → gunzip → untar into a staging folder inside the target, which must be empty or
 * new; the entries are moved into the target only after the last byte was read and the MAC matched.
 * Live data is never touched; on any failure (wrong passphrase, tampering, corruption, disk full,
 * abort) the staging folder is removed again and the target is left as it was.
 */
import { createHash, randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { extractArchive } from "../archive/index.js";
import { WorkspaceSyncError, errorMessage, toWorkspaceSyncError, type ErrorCode } from "../errors.js";
import { silentLogger, type Logger, type ProgressCallback } from "../logger.js";
import { joinRemotePath } from "../providers/paths.js";
import type { StorageProvider } from "../providers/types.js";
import { planAuthentication, type AuthPlan } from "./authenticate.js";
import { loadSyncConfig, type ConfigInput } from "../config/index.js";
import { explainReadFailure, openSnapshotPlaintext } from "./read-snapshot.js";
import { RestoreThread } from "./restore-thread.js";
import { moveIntoPlace, removeStaging } from "./restore-move.js";
import { wantsHelperThread, type HelperThreadMode } from "./helper-thread.js";
import { compareNewestFirst, parseSnapshotName } from "../snapshot/index.js";
import { readBackupState } from "./state.js";
import { listSnapshotFolder } from "./list.js";
import { ownedSnapshots, type OwnershipContext } from "./ownership.js";
import { printableName, shortList } from "../util/printable.js";
import { requireBackupSettings, withBackupTarget } from "./target.js";
import type { BackupSettings } from "../config/types.js";
import type { ProviderLocation } from "../providers/index.js";

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
  /**
   * Refuse snapshots without a valid MAC (made before authentication, by the plugin, by
   * `tar | openssl`, or unencrypted) instead of warning. Default: `backup.requireAuthenticated`.
   */
  requireAuthenticated?: boolean;
  /**
   * Restore a snapshot without a MAC even when an older snapshot in the folder is authenticated
   * (normally refused: that is what a renamed old snapshot looks like). Never accepts a MAC that
   * does not match, nor a snapshot whose MAC file was deleted.
   */
  allowUnauthenticated?: boolean;
  /**
   * Whether to decrypt and create small files on a helper thread while this one reads the archive:
   * `"auto"` (default) for snapshots of 4 MiB (`HELPER_THREAD_MIN_BYTES`) or more; below that,
   * decryption runs on this thread and small files get a thread of their own only past the first
   * 256 of them (or 4 MiB). `"never"`: no thread at all. The restored tree and the checks are the same
   * either way.
   */
  helperThread?: HelperThreadMode;
}

/** Result of {@link runRestore}. */
export type RunRestoreResult =
  | {
      ok: true;
      snapshotName: string;
      restoredTo: string;
      /** Whether the content was checked: its MAC matched, or (unauthenticated snapshots) a stored SHA-256 matched. */
      verified: boolean;
      /** Whether the snapshot's MAC matched (content and identity proven unaltered). */
      authenticated: boolean;
      /**
       * Why an unauthenticated snapshot was accepted, and what the extraction left out or changed
       * (entries of unsupported types skipped, symlinks skipped, times out of range); also logged.
       */
      warnings: string[];
      /** Key derivation that decrypted the snapshot (e.g. `pbkdf2-sha256:100000`), when encrypted. */
      kdf?: string;
    }
  | { ok: false; error: string; code: ErrorCode };

/** Where a restore goes when no folder is given: `<stateDir>/.backup-restore/<snapshot>`. */
export function defaultRestoreFolder(stateDir: string, snapshotName: string): string {
  return path.resolve(stateDir, ".backup-restore", snapshotName);
}

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

/** What `"latest"` passed over, as a warning naming each (names from storage, escaped) and why. */
export function passedOverWarning(passedOver: readonly { name: string; reason: string }[], chosen: string): string {
  const shown = shortList(passedOver.map((p) => `${printableName(p.name)} (${printableName(p.reason)})`), 10);
  return `"latest" is ${chosen}: newer snapshot names in the backup folder are not ours and were passed over (someone else's, or put there by someone who can write to the storage): ${shown}`;
}

/**
 * Resolves `"latest"` or checks that a named snapshot exists. With `backup` (its passphrase),
 * `"latest"` is the newest snapshot that is provably ours ({@link ownedSnapshots}): a newer name
 * planted in the storage, or another agent's, is passed over (and named in `passedOver`). When
 * none is ours, it is the newest name, so that its checks say why it is refused.
 */
export async function resolveSnapshotName(provider: StorageProvider, dir: string, requested: string, signal?: AbortSignal, backup?: OwnershipContext["backup"], stateDir?: string): Promise<string> {
  return (await resolveSnapshot(provider, dir, requested, signal, backup, stateDir)).name;
}

/** A resolved snapshot: its name, stored size, and the newer names `"latest"` passed over as not ours (with why). */
export interface ResolvedSnapshot {
  name: string;
  size: number;
  passedOver: { name: string; reason: string }[];
}

/** {@link resolveSnapshotName}, with the snapshot's stored size and the names passed over. */
export async function resolveSnapshot(provider: StorageProvider, dir: string, requested: string, signal?: AbortSignal, backup?: OwnershipContext["backup"], stateDir?: string): Promise<ResolvedSnapshot> {
  if (requested === "latest" || requested === "") {
    const folder = await listSnapshotFolder(provider, dir, signal);
    const passedOver: { name: string; reason: string }[] = [];
    // All at once: each name is weighed against the older ones (a MAC file without a name tag
    // newer than one with it is passed over).
    const ctx: OwnershipContext | undefined = backup && { provider, dir, backup, signal, ...(stateDir === undefined ? {} : { stateDir }) };
    const verdicts = ctx && (await ownedSnapshots(ctx, folder.snapshots, folder.names));
    const why = new Map(verdicts?.notOurs.map((n) => [n.name, n]));
    for (const s of folder.snapshots) {
      let notOurs = why.get(s.name);
      // Without a MAC file, newer than an authenticated one: judged alone (does it decrypt, is it
      // dated ahead) and, if it would be ours, taken: the restore's rule refuses it with what to
      // do (or reads it with allowUnauthenticated, where a legacy writer still runs).
      if (ctx && notOurs?.afterAuthenticated) notOurs = (await ownedSnapshots(ctx, [s], folder.names)).notOurs[0];
      if (notOurs === undefined) return { name: s.name, size: s.size, passedOver };
      // A MAC file without a name tag not yet verified here: taken, and authenticated whole by the
      // restore (a forgery is refused there), never an older snapshot in its place.
      if (notOurs.unverified) return { name: s.name, size: s.size, passedOver };
      if (notOurs.checkFailed) {
        // Never an older snapshot for a newer one that could not be looked at.
        throw new WorkspaceSyncError("PROVIDER_ERROR", `Could not tell whether ${s.name} is ours (${notOurs.reason}), so "latest" is not resolved: try again, or name a snapshot`, { path: s.name, retryable: true });
      }
      passedOver.push(notOurs);
    }
    // None is ours: the newest, whose checks then say exactly why (a wrong passphrase, a
    // substituted or tampered snapshot) rather than "none found".
    const [newest] = folder.snapshots;
    if (!newest) throw new WorkspaceSyncError("SNAPSHOT_NOT_FOUND", `No snapshots found in ${provider.description}/${dir}: run "workspace-sync backup now" first`);
    return { name: newest.name, size: newest.size, passedOver: [] };
  }
  if (requested.includes("/") || requested.includes("\\") || requested === "." || requested === "..") {
    throw new WorkspaceSyncError("SNAPSHOT_NOT_FOUND", `Invalid snapshot name ${JSON.stringify(requested)}: use a name from "workspace-sync backup list"`, { path: requested });
  }
  const found = await provider.stat(joinRemotePath(dir, requested), { signal });
  if (!found) {
    throw new WorkspaceSyncError("SNAPSHOT_NOT_FOUND", `Snapshot ${requested} not found in ${provider.description}/${dir}: see "workspace-sync backup list"`, { path: requested });
  }
  return { name: requested, size: found.size, passedOver: [] };
}

async function restoreOnce(params: RunRestoreParams, logger: Logger): Promise<RunRestoreResult & { ok: true }> {
  const backup = requireBackupSettings(loadSyncConfig(params.syncConfig, logger));
  const ctx = { logger, stateDir: params.stateDir, provider: params.provider };
  return withBackupTarget(backup, ctx, (location) => restoreFrom(params, logger, backup, location));
}

async function restoreFrom(params: RunRestoreParams, logger: Logger, backup: BackupSettings, { provider, dir }: ProviderLocation): Promise<RunRestoreResult & { ok: true }> {
  const { signal } = params;
  const { name: snapshotName, size: storedBytes, passedOver } = await resolveSnapshot(provider, dir, params.snapshotName, signal, backup, params.stateDir);
  const restoredTo = path.resolve(params.restoreTo ?? defaultRestoreFolder(params.stateDir, snapshotName));
  logger.info(`[backup] Restoring snapshot: ${snapshotName}`);
  if (params.requireAuthenticated && params.allowUnauthenticated) {
    throw new WorkspaceSyncError("CONFIG_INVALID", "requireAuthenticated and allowUnauthenticated contradict each other: pass one of them", { path: "allowUnauthenticated" });
  }
  if (snapshotName.endsWith(".enc") && !backup.passphrase) {
    throw new WorkspaceSyncError("PASSPHRASE_MISSING", `Snapshot ${snapshotName} is encrypted but no passphrase is configured: set backup.passphrase`, { path: "backup.passphrase" });
  }
  // Decided before the target is touched: a refused snapshot leaves no trace.
  const policy = {
    requireAuthenticated: params.requireAuthenticated ?? (params.allowUnauthenticated ? false : backup.requireAuthenticated ?? false),
    allowUnauthenticated: params.allowUnauthenticated ?? false,
  };
  const auth: AuthPlan = await planAuthentication({ provider, dir, name: snapshotName, backup, policy, signal });
  const warnings: string[] = [];
  if (passedOver.length > 0) {
    const w = passedOverWarning(passedOver, snapshotName);
    warnings.push(w);
    logger.warn(`[backup] ${w}`);
  }
  const missing = await newerSnapshotMissing(params, snapshotName);
  if (missing) {
    warnings.push(missing);
    logger.warn(`[backup] ${missing}`);
  }
  if (auth.kind === "none") {
    warnings.push(auth.warning);
    logger.warn(`[backup] ${auth.warning}`);
  }

  const created = await prepareTarget(restoredTo, params.stateDir, logger);
  // Extract into a hidden folder inside the target (same disk, so a mount point works) and move
  // the entries up at the end, once the MAC matched: a restore killed midway leaves only that
  // folder, recorded in the state folder, which the next restore into the same place removes.
  const partial = path.join(restoredTo, `${PARTIAL_PREFIX}${randomBytes(4).toString("hex")}`);
  await recordStaging(params.stateDir, partial);
  let opened: Awaited<ReturnType<typeof openSnapshotPlaintext>>;
  // One helper thread decrypts and creates the small files while this one reads the archive
  // (unless the snapshot is too small for the thread to pay for its start).
  const threaded = wantsHelperThread(params.helperThread, storedBytes);
  const thread = threaded ? RestoreThread.start() : undefined;
  try {
    opened = await openSnapshotPlaintext(provider, dir, snapshotName, backup, {
      signal,
      auth,
      thread,
      offThread: threaded,
      handOver: true, // `plain` goes to extractArchive only
      onBytes: params.onProgress ? (bytes) => params.onProgress?.({ phase: "restore", bytes }) : undefined,
    });
  } catch (err) {
    await thread?.close();
    await forgetStaging(params.stateDir, partial);
    if (created) await fsp.rmdir(restoredTo).catch(() => undefined);
    throw err;
  }
  const { plain, done, expected, kdf } = opened;
  logger.info(`[backup] Streaming restore to ${restoredTo} (no local temp file needed)`);
  const extracted = extractArchive(plain, partial, {
    signal,
    // Without the helper thread, small files still get a thread of their own once there are
    // enough of them (a small snapshot of many tiny files); "never" means none at all.
    fileThread: params.helperThread === "never" ? false : thread,
    externalSymlinks: params.externalSymlinks,
    // The extractor's findings (entries skipped, times left out) are the caller's to see too.
    onWarning: (m) => {
      warnings.push(m);
      logger.warn(`[backup] ${m}`);
    },
  });
  const [read, wrote] = await Promise.allSettled([done, extracted]);
  // Once closed, the thread writes nothing more: what was extracted may be removed.
  await thread?.close();
  /** After a failure: the staging folder goes (and its record), and a target this restore made. */
  const discard = async (): Promise<void> => {
    await removeStaging(partial).catch((err) => logger.warn(`[backup] Could not clean up ${partial}: ${errorMessage(err)}`));
    await forgetStaging(params.stateDir, partial);
    if (created) await fsp.rmdir(restoredTo).catch(() => undefined);
  };
  if (read.status === "rejected" || wrote.status === "rejected") {
    plain.destroy();
    await discard();
    // Reading/decrypting explains an extraction failure better than the other way round, except
    // for an unsafe entry or a full disk, which are the extractor's own findings.
    const readErr = read.status === "rejected" ? toWorkspaceSyncError(read.reason) : undefined;
    const writeErr = wrote.status === "rejected" ? toWorkspaceSyncError(wrote.reason) : undefined;
    const primary =
      writeErr && ["UNSAFE_ARCHIVE_ENTRY", "NOT_SUPPORTED", "INVALID_PATH", "INTERNAL_ERROR", "INSUFFICIENT_SPACE", "TARGET_NOT_EMPTY", "ACCESS_DENIED"].includes(writeErr.code)
        ? writeErr
        : readErr ?? writeErr;
    throw await explainReadFailure(primary, { provider, dir, name: snapshotName, auth, signal });
  }
  try {
    // All or nothing: on failure what was moved goes back, and the staging folder is removed.
    await moveIntoPlace(partial, restoredTo);
  } catch (err) {
    await discard();
    throw err;
  }
  await fsp.rmdir(partial);
  await forgetStaging(params.stateDir, partial);
  const authenticated = auth.kind === "mac";
  if (!authenticated && !expected) logger.warn(`[backup] No checksum stored for ${snapshotName}: restored without integrity check`);
  logger.info(`[backup] Restore complete: ${snapshotName} → ${restoredTo}${authenticated ? " (MAC verified)" : ""}`);
  const usedKdf = kdf();
  return {
    ok: true,
    snapshotName,
    restoredTo,
    verified: authenticated || expected !== undefined,
    authenticated,
    warnings,
    ...(usedKdf ? { kdf: usedKdf } : {}),
  };
}

/**
 * Storage alone cannot show that the newest snapshots were deleted (a rollback by deletion): this
 * host remembers the last snapshot it wrote, and a "latest" restore that resolves to an older one
 * says so.
 */
async function newerSnapshotMissing(params: RunRestoreParams, resolved: string): Promise<string | undefined> {
  if (params.snapshotName !== "latest" && params.snapshotName !== "") return undefined;
  const last = (await readBackupState(params.stateDir).catch(() => ({}) as { lastSnapshot?: string })).lastSnapshot;
  const mine = last ? parseSnapshotName(last) : undefined;
  const chosen = parseSnapshotName(resolved);
  if (!mine || !chosen || compareNewestFirst(mine, chosen) >= 0) return undefined;
  return `The newest snapshot this host wrote, ${mine.name}, is not in the backup storage any more (deleted there?): "latest" is the older ${resolved}`;
}

/** Name prefix of the folder a restore extracts into before moving entries into place. */
const PARTIAL_PREFIX = ".ws-restore-partial-";

/** Folder in the state folder recording the staging folders restores created (see {@link recordStaging}). */
function stagingRecordDir(stateDir: string): string {
  return path.join(path.resolve(stateDir), "workspace-sync", "restore-staging");
}

function stagingRecordFile(stateDir: string, partial: string): string {
  return path.join(stagingRecordDir(stateDir), `${createHash("sha256").update(path.resolve(partial)).digest("hex").slice(0, 32)}.json`);
}

/**
 * Records, in the state folder, that this library is about to create staging folder `partial`:
 * only recorded folders are ever removed as leftovers, whatever their name (a user folder named
 * like one, e.g. restored from a snapshot, is data like any other).
 */
async function recordStaging(stateDir: string, partial: string): Promise<void> {
  await fsp.mkdir(stagingRecordDir(stateDir), { recursive: true });
  await fsp.writeFile(stagingRecordFile(stateDir, partial), JSON.stringify({ path: path.resolve(partial), created: new Date().toISOString() }) + "\n");
}

async function forgetStaging(stateDir: string, partial: string): Promise<void> {
  await fsp.rm(stagingRecordFile(stateDir, partial), { force: true }).catch(() => undefined);
}

async function isRecordedStaging(stateDir: string, partial: string): Promise<boolean> {
  try {
    const rec = JSON.parse(await fsp.readFile(stagingRecordFile(stateDir, partial), "utf8")) as { path?: unknown };
    return rec.path === path.resolve(partial);
  } catch {
    return false;
  }
}

/**
 * Makes sure the target is new or empty: a restore never mixes with existing files. Staging
 * folders that an interrupted restore recorded in this state folder are removed first; nothing else
 * is. Returns whether the folder was created.
 */
async function prepareTarget(dir: string, stateDir: string, logger: Logger): Promise<boolean> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOTDIR") {
      throw new WorkspaceSyncError("TARGET_NOT_EMPTY", `Restore target ${dir} is a file: choose a new or empty folder (option restoreTo)`, { path: dir });
    }
    if (code !== "ENOENT") throw toWorkspaceSyncError(err);
    await fsp.mkdir(dir, { recursive: true }).catch((e) => {
      throw toWorkspaceSyncError(e);
    });
    return true;
  }
  const leftovers: string[] = [];
  for (const n of names) if (n.startsWith(PARTIAL_PREFIX) && (await isRecordedStaging(stateDir, path.join(dir, n)))) leftovers.push(n);
  if (leftovers.length > 0 && leftovers.length === names.length) {
    logger.warn(`[backup] Removing what an interrupted restore left in ${dir}`);
    for (const n of leftovers) {
      await removeStaging(path.join(dir, n));
      await forgetStaging(stateDir, path.join(dir, n));
    }
    return false;
  }
  if (names.length > 0) {
    throw new WorkspaceSyncError("TARGET_NOT_EMPTY", `Restore target ${dir} is not empty: choose a new or empty folder (option restoreTo)`, { path: dir });
  }
  return false;
}
