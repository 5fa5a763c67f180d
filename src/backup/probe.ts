/** `probeBackupTarget`: can the configured snapshot folder be reached (what `status` reports)? */
import type { ResolvedConfig } from "../config/types.js";
import { toWorkspaceSyncError, type ErrorCode } from "../errors.js";
import { silentLogger, type Logger } from "../logger.js";
import type { StorageProvider } from "../providers/types.js";
import { requireBackupSettings, withBackupTarget } from "./target.js";

/** The outcome of a connectivity probe. */
export type ProbeResult = { ok: true } | { ok: false; error: string; code: ErrorCode };

/** Parameters of {@link probeBackupTarget}. */
export interface ProbeBackupTargetParams {
  config: ResolvedConfig;
  stateDir: string;
  logger?: Logger;
  signal?: AbortSignal;
  /** Use this provider instead of building one from the config; the caller keeps (and closes) it. */
  provider?: StorageProvider;
}

/** Opens the backup target, runs the provider's `check` and closes it again. Never throws. */
export async function probeBackupTarget(params: ProbeBackupTargetParams): Promise<ProbeResult> {
  try {
    const backup = requireBackupSettings(params.config);
    const ctx = { logger: params.logger ?? silentLogger, stateDir: params.stateDir, provider: params.provider };
    await withBackupTarget(backup, ctx, ({ provider }) => provider.check({ signal: params.signal }));
    return { ok: true };
  } catch (err) {
    const e = toWorkspaceSyncError(err);
    return { ok: false, error: e.message, code: e.code };
  }
}
