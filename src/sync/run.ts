/**
 * One sync run over a {@link StorageProvider}: settings checked, lock, timeout, then the mode's
 * runner (`modes.ts`), which lists both sides (`prepare.ts`), compares, plans, checks safety and
 * executes (`reconcile.ts`), adds the drain (mailbox) or ingest (mirror, `ingest-run.ts`) and saves
 * the state. What a run carries between those steps is `run-context.ts`.
 */
import { setMaxListeners } from "node:events";
import path from "node:path";
import type { SyncSettings } from "../config/types.js";
import { WorkspaceSyncError, abortError, toWorkspaceSyncError } from "../errors.js";
import { silentLogger, type Logger } from "../logger.js";
import { setLongTimeout, type LongTimeout } from "../util/timers.js";
import { normalizeRemotePath } from "../providers/paths.js";
import type { StorageProvider } from "../providers/types.js";
import { DEFAULT_SYNC_EXCLUDE } from "../config/defaults.js";
import { createFilter } from "./filters.js";
import { statePathFor, type StateIdentity } from "./state.js";
import { acquireLock } from "./lock.js";
import { installToken } from "../util/temp-names.js";
import { runBisync, runMailbox, runMirror } from "./modes.js";
import type { RunContext } from "./run-context.js";
import { syncFailure, type SyncRunResult } from "./types.js";
import { transfersInFlight } from "./execute.js";

/** Arguments of {@link runSyncWithProvider}. */
export interface RunSyncWithProviderOptions {
  settings: SyncSettings;
  provider: StorageProvider;
  /** The agent workspace; the synced folder is `<workspaceDir>/<settings.localPath>`. */
  workspaceDir: string;
  /** Folder for the sync state and lock files. */
  stateDir: string;
  logger?: Logger;
  signal?: AbortSignal;
  /** Plan and report only; change nothing (no folders created, no state written). */
  dryRun?: boolean;
  /** Mailbox: called after a drain that moved files, with their names (relative to `_inbox`) and the notification text. */
  onInboxFiles?: (names: string[], text: string) => void | Promise<void>;
}

/** The plugin's wording when `mode` is missing. */
export const MODE_REQUIRED_MESSAGE =
  '"mode" is required in config. Set "mode": "mailbox" (inbox/outbox, safest), "mode": "mirror" (workspace→cloud), or "mode": "bisync" (bidirectional). Sync will not run until mode is set.';

/**
 * The settings as they are now, for the whole run: a host's config object (OpenClaw's) can change
 * while a run is under way, and a run reads some settings before its listings and others after.
 * What a run reads is at the top level, and the exclude list (the provider's own settings are read
 * once, when it is built). Not part of the package's API.
 */
export function settingsAtStart(s: SyncSettings): SyncSettings {
  return { ...s, ...(s.exclude ? { exclude: [...s.exclude] } : {}) };
}

/** Runs one sync. Never throws: failures come back as `{ ok: false, error }`. */
export async function runSyncWithProvider(options: RunSyncWithProviderOptions): Promise<SyncRunResult> {
  const logger = options.logger ?? silentLogger;
  const settings = settingsAtStart(options.settings);
  const mode = settings.mode;
  if (!mode) {
    logger.error(`[workspace-sync] ${MODE_REQUIRED_MESSAGE}`);
    return syncFailure(new WorkspaceSyncError("CONFIG_INVALID", MODE_REQUIRED_MESSAGE, { path: "mode" }));
  }
  let workspace: string;
  let remoteDir: string;
  try {
    workspace = resolveWorkspace(options.workspaceDir, settings.localPath ?? "");
    remoteDir = normalizeRemotePath(settings.remotePath ?? "");
  } catch (err) {
    return syncFailure(toWorkspaceSyncError(err, "CONFIG_INVALID"));
  }
  const identity: StateIdentity = { description: options.provider.description, remotePath: remoteDir, workspace };
  const stateFile = statePathFor(options.stateDir, identity);
  const { signal, dispose } = runSignal(options.signal, settings.timeout);
  const concurrency = Math.max(1, Math.floor(settings.concurrency || 4));
  // Our own signal, listened on once per concurrent worker (plus listings): a known, bounded fan-out.
  setMaxListeners(transfersInFlight(concurrency, options.provider.capabilities.threadWrites) + 16, signal);

  let lock;
  try {
    lock = await acquireLock(stateFile);
  } catch (err) {
    dispose();
    const error = toWorkspaceSyncError(err);
    logger.warn(`[workspace-sync] ${error.message}`);
    return syncFailure(error);
  }
  const ctx: RunContext = {
    provider: options.provider,
    settings,
    mode,
    workspace,
    remoteDir,
    stateFile,
    identity,
    filter: createFilter(settings.exclude ?? DEFAULT_SYNC_EXCLUDE, settings.copySymlinks === true),
    // NFC so a macOS (NFD) name and the same name stored NFC in the cloud are one file, as rclone does.
    keyOf: options.provider.capabilities.caseInsensitive ? (p: string) => p.normalize("NFC").toLowerCase() : (p: string) => p.normalize("NFC"),
    logger,
    signal,
    dryRun: options.dryRun === true,
    concurrency,
    remoteLabel: remoteDir ? `${options.provider.description}/${remoteDir}` : options.provider.description,
    onInboxFiles: options.onInboxFiles,
    token: installToken(options.stateDir),
    wfs: undefined,
  };
  try {
    if (mode === "mailbox") return await runMailbox(ctx);
    if (mode === "mirror") return await runMirror(ctx);
    return await runBisync(ctx);
  } catch (err) {
    const error = signal.aborted ? abortError(signal.reason) : toWorkspaceSyncError(err);
    logger.error(`[workspace-sync] Sync failed (${mode}): ${error.message}`);
    return syncFailure(error);
  } finally {
    dispose();
    await lock.release();
  }
}

/** `<workspaceDir>/<localPath>`; an absolute localPath is refused as in the plugin. */
function resolveWorkspace(workspaceDir: string, localPath: string): string {
  if (path.isAbsolute(localPath)) {
    throw new WorkspaceSyncError("CONFIG_INVALID", `localPath must be relative to the workspace, got ${JSON.stringify(localPath)}: use a relative path such as "shared"`, { path: "localPath" });
  }
  return path.resolve(workspaceDir, localPath);
}

/** The caller's signal combined with the run timeout (seconds; 0 = none). */
function runSignal(parent: AbortSignal | undefined, timeoutSeconds: number | undefined): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(abortError(parent?.reason));
  if (parent?.aborted) onAbort();
  else parent?.addEventListener("abort", onAbort, { once: true });
  let timer: LongTimeout | undefined;
  if (timeoutSeconds && timeoutSeconds > 0) {
    // setLongTimeout: a timeout beyond Node's ~24.8-day timer limit must not fire at once.
    timer = setLongTimeout(() => {
      controller.abort(new WorkspaceSyncError("TIMEOUT", `Sync timed out after ${timeoutSeconds}s and was stopped cleanly; raise "timeout" if the folder is large or the link slow`, { retryable: true }));
    }, timeoutSeconds * 1000, { unref: true });
  }
  return {
    signal: controller.signal,
    dispose() {
      timer?.clear();
      parent?.removeEventListener("abort", onAbort);
    },
  };
}
