/**
 * `backup verify`: reads a snapshot end to end (its MAC, or the SHA-256 against its checksum file
 * for unauthenticated snapshots; decrypt, gunzip with CRC checks, tar structure) without writing
 * anything, so damage or tampering in storage is found before the day a restore is needed. The
 * same authentication rules as a restore apply.
 */
import { checkArchive } from "../archive/index.js";
import { errorMessage, toWorkspaceSyncError, type ErrorCode } from "../errors.js";
import { silentLogger, type Logger } from "../logger.js";
import type { StorageProvider } from "../providers/types.js";
import type { BackupSettings } from "../config/types.js";
import { loadSyncConfig, type ConfigInput } from "../config/index.js";
import { listSnapshotsIn } from "./list.js";
import { passedOverWarning, resolveSnapshot } from "./restore.js";
import { backupLocation, recordVerifiedMacs } from "./verified-macs.js";
import { wantsHelperThread, type HelperThreadMode } from "./helper-thread.js";
import { explainReadFailure, openSnapshotPlaintext } from "./read-snapshot.js";
import type { AuthPlan, AuthPolicy } from "./authenticate.js";
import { requireBackupSettings, withBackupTarget } from "./target.js";

/** Outcome of verifying one snapshot. */
export type SnapshotVerification =
  | {
      snapshotName: string;
      ok: true;
      /** Whether a stored SHA-256 or MAC was checked. */
      checksum: boolean;
      /** Whether the MAC matched (content and identity proven unaltered). */
      authenticated: boolean;
      entries: number;
      bytes: number;
      /** Why an unauthenticated snapshot was accepted. */
      warning?: string;
    }
  | { snapshotName: string; ok: false; checksum: boolean; authenticated: false; error: string; code: ErrorCode };

/** Parameters of {@link verifySnapshots}. */
export interface VerifySnapshotsParams {
  /** The plugin config (nested or flat) or a resolved config. */
  syncConfig: ConfigInput;
  /** The agent state folder. */
  stateDir: string;
  /** A name, `"latest"` or `"all"`. */
  snapshotName: string;
  /** Where log lines go (default: nowhere). */
  logger?: Logger;
  /** Cancels the check. */
  signal?: AbortSignal;
  /** Use this provider instance instead of building one from the config. */
  provider?: StorageProvider;
  /** Refuse snapshots without a valid MAC (default: `backup.requireAuthenticated`). */
  requireAuthenticated?: boolean;
  /** Accept an unauthenticated snapshot newer than an authenticated one (see `runRestore`). */
  allowUnauthenticated?: boolean;
  /** Whether to decrypt on a helper thread (see `runRestore`; default `"auto"`). */
  helperThread?: HelperThreadMode;
}

/** Verifies one or all snapshots. Never throws. */
export async function verifySnapshots(
  params: VerifySnapshotsParams,
): Promise<{ ok: true; snapshots: SnapshotVerification[] } | { ok: false; error: string; code: ErrorCode }> {
  const logger = params.logger ?? silentLogger;
  try {
    const backup = requireBackupSettings(loadSyncConfig(params.syncConfig, logger));
    const ctx = { logger, stateDir: params.stateDir, provider: params.provider };
    const snapshots = await withBackupTarget(backup, ctx, async ({ provider, dir }) => {
      const found =
        params.snapshotName === "all"
          ? await listSnapshotsIn(provider, dir, params.signal)
          : [await resolveSnapshot(provider, dir, params.snapshotName, params.signal, backup, params.stateDir)];
      for (const f of found) if ("passedOver" in f && f.passedOver.length > 0) logger.warn(`[backup] ${passedOverWarning(f.passedOver, f.name)}`);
      const policy: AuthPolicy = {
        requireAuthenticated: params.requireAuthenticated ?? (params.allowUnauthenticated ? false : backup.requireAuthenticated ?? false),
        allowUnauthenticated: params.allowUnauthenticated ?? false,
      };
      const snapshots: SnapshotVerification[] = [];
      /** Snapshots authenticated whole whose MAC files have no name tag: recorded for retention. */
      const untagged: [string, string][] = [];
      for (const { name, size } of found) {
        const offThread = wantsHelperThread(params.helperThread, size);
        const { v, untaggedMac } = await verifyOne(provider, dir, name, backup, { policy, offThread, signal: params.signal });
        if (v.ok && v.warning) logger.warn(`[backup] ${v.warning}`);
        if (untaggedMac !== undefined) untagged.push([name, untaggedMac]);
        snapshots.push(v);
      }
      await recordVerifiedMacs(params.stateDir, backupLocation(provider.description, dir), untagged).catch((err: unknown) => logger.warn(`[backup] Could not record the snapshots verified: ${errorMessage(err)}`));
      return snapshots;
    });
    return { ok: true, snapshots };
  } catch (err) {
    const e = toWorkspaceSyncError(err);
    return { ok: false, error: e.message, code: e.code };
  }
}

async function verifyOne(
  provider: StorageProvider,
  dir: string,
  name: string,
  backup: BackupSettings,
  { policy, offThread, signal }: { policy: AuthPolicy; offThread: boolean; signal: AbortSignal | undefined },
): Promise<{ v: SnapshotVerification; untaggedMac?: string }> {
  let checksum = false;
  let auth: AuthPlan | undefined;
  try {
    const opened = await openSnapshotPlaintext(provider, dir, name, backup, { signal, policy, offThread, handOver: true }); // `plain` goes to checkArchive only
    auth = opened.auth;
    checksum = opened.expected !== undefined || auth.kind === "mac";
    const [read, parsed] = await Promise.allSettled([opened.done, checkArchive(opened.plain, { signal })]);
    if (read.status === "rejected") throw read.reason;
    if (parsed.status === "rejected") throw parsed.reason;
    const v: SnapshotVerification = {
      snapshotName: name,
      ok: true,
      checksum,
      authenticated: auth.kind === "mac",
      entries: parsed.value.entries,
      bytes: parsed.value.bytes,
      ...(auth.kind === "none" ? { warning: auth.warning } : {}),
    };
    return auth.kind === "mac" && auth.record.nameTag === undefined ? { v, untaggedMac: auth.record.mac } : { v };
  } catch (err) {
    const e = await explainReadFailure(err, { provider, dir, name, auth, signal });
    return { v: { snapshotName: name, ok: false, checksum, authenticated: false, error: e.message, code: e.code } };
  }
}
