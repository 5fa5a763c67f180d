/**
 * `backup verify`: reads a snapshot end to end (SHA-256 against its checksum file, decrypt, gunzip
 * with CRC checks, tar structure) without writing anything, so damage in storage is found before
 * the day a restore is needed.
 */
import { checkArchive } from "../archive/index.js";
import { toWorkspaceSyncError, type ErrorCode } from "../errors.js";
import { silentLogger, type Logger } from "../logger.js";
import type { StorageProvider } from "../providers/types.js";
import type { BackupSettings } from "../config/types.js";
import { loadSyncConfig, type ConfigInput } from "./config-input.js";
import { listSnapshotsIn } from "./list.js";
import { openSnapshotPlaintext, resolveSnapshotName } from "./restore.js";
import { openBackupTarget, requireBackupSettings } from "./target.js";

/** Outcome of verifying one snapshot. */
export type SnapshotVerification =
  | { snapshotName: string; ok: true; checksum: boolean; entries: number; bytes: number }
  | { snapshotName: string; ok: false; checksum: boolean; error: string; code: ErrorCode };

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
}

/** Verifies one or all snapshots. Never throws. */
export async function verifySnapshots(
  params: VerifySnapshotsParams,
): Promise<{ ok: true; snapshots: SnapshotVerification[] } | { ok: false; error: string; code: ErrorCode }> {
  const logger = params.logger ?? silentLogger;
  try {
    const backup = requireBackupSettings(loadSyncConfig(params.syncConfig, logger));
    const { provider, dir } = await openBackupTarget(backup, { logger, stateDir: params.stateDir, provider: params.provider });
    const names =
      params.snapshotName === "all"
        ? (await listSnapshotsIn(provider, dir, params.signal)).map((s) => s.name)
        : [await resolveSnapshotName(provider, dir, params.snapshotName, params.signal)];
    const snapshots: SnapshotVerification[] = [];
    for (const name of names) snapshots.push(await verifyOne(provider, dir, name, backup, params.signal));
    return { ok: true, snapshots };
  } catch (err) {
    const e = toWorkspaceSyncError(err);
    return { ok: false, error: e.message, code: e.code };
  }
}

async function verifyOne(provider: StorageProvider, dir: string, name: string, backup: BackupSettings, signal?: AbortSignal): Promise<SnapshotVerification> {
  let checksum = false;
  try {
    const { plain, done, expected } = await openSnapshotPlaintext(provider, dir, name, backup, { signal });
    checksum = expected !== undefined;
    const [read, parsed] = await Promise.allSettled([done, checkArchive(plain, { signal })]);
    if (read.status === "rejected") throw read.reason;
    if (parsed.status === "rejected") throw parsed.reason;
    return { snapshotName: name, ok: true, checksum, entries: parsed.value.entries, bytes: parsed.value.bytes };
  } catch (err) {
    const e = toWorkspaceSyncError(err);
    return { snapshotName: name, ok: false, checksum, error: e.message, code: e.code };
  }
}
