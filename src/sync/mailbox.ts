/**
 * Mailbox pieces besides the push: the drain (cloud `_outbox/` → workspace `_inbox/`), the
 * start-up folders and the inbox notification text.
 */
import { promises as fsp } from "node:fs";
import path from "node:path";
import { throwIfAborted, toWorkspaceSyncError } from "../errors.js";
import type { Logger } from "../logger.js";
import { joinRemotePath } from "../providers/paths.js";
import type { StorageProvider } from "../providers/types.js";
import type { SyncFilter } from "./filters.js";
import { forEachLimit } from "../util/concurrency.js";
import { isLocalNameProblem, nameProblemReason, WorkspaceFs } from "../util/safe-fs.js";
import { installToken } from "../util/temp-names.js";
import { listRemote } from "./listing.js";
import { compareContent } from "./compare.js";
import { downloadFile } from "./transfer.js";
import type { RemoteFile, SkipNote } from "./types.js";
import { versionNow } from "./remote-version.js";

/** Workspace folder that receives drained files. */
export const INBOX_DIR = "_inbox";
/** Cloud folder that is drained. */
export const OUTBOX_DIR = "_outbox";

/** Most file names listed in an inbox notification. */
const NOTIFY_MAX_NAMES = 5;

/** `[workspace-sync] New files in _inbox: a.pdf, b.csv` (at most five names, then ` and N more`). */
export function formatInboxNotification(names: readonly string[]): string {
  const listing = names.length <= NOTIFY_MAX_NAMES ? names.join(", ") : `${names.slice(0, NOTIFY_MAX_NAMES).join(", ")} and ${names.length - NOTIFY_MAX_NAMES} more`;
  return `[workspace-sync] New files in _inbox: ${listing}`;
}

/**
 * Makes sure cloud `_outbox/` and workspace `_inbox/` exist. A workspace `_inbox` that is a symlink
 * (or a file) is left as it is, with a warning: the drain then skips every file, and they stay in
 * the cloud `_outbox`.
 */
export async function ensureMailboxFolders(provider: StorageProvider, remoteDir: string, workspace: string, logger: Logger, signal?: AbortSignal, wfs?: WorkspaceFs): Promise<void> {
  const outbox = joinRemotePath(remoteDir, OUTBOX_DIR);
  try {
    await provider.ensureDir(outbox, { signal });
    logger.info(`[workspace-sync] Mailbox: ensured cloud _outbox at ${provider.description}/${outbox}`);
  } catch (err) {
    logger.warn(`[workspace-sync] Mailbox: failed to create cloud _outbox: ${toWorkspaceSyncError(err).message}`);
  }
  const inbox = path.join(workspace, INBOX_DIR);
  const existed = await fsp.lstat(inbox).then(() => true, () => false);
  const guard = wfs ?? (await WorkspaceFs.open(workspace));
  try {
    await guard.ensureDir(INBOX_DIR);
  } catch (err) {
    if (!isLocalNameProblem(err)) throw toWorkspaceSyncError(err);
    logger.warn(`[workspace-sync] Mailbox: local _inbox is not usable (${nameProblemReason(err)}); nothing will be drained into it`);
    return;
  }
  if (!existed) logger.info(`[workspace-sync] Mailbox: created local _inbox at ${inbox}`);
}

/** Options of {@link drainOutbox}. */
export interface DrainOptions {
  provider: StorageProvider;
  remoteDir: string;
  workspace: string;
  filter: SyncFilter;
  concurrency: number;
  logger: Logger;
  dryRun?: boolean;
  signal?: AbortSignal;
  /** The guarded workspace (default: opened on `workspace`). */
  wfs?: WorkspaceFs;
  /** This install's temp-name token (default: the process's). */
  token?: string;
  /** Called for each `_outbox` file left in the cloud because the workspace cannot take it (path relative to the cloud folder). */
  onSkipped?: (note: SkipNote) => void;
}

/**
 * Moves every file under cloud `_outbox/` into workspace `_inbox/` (sub-folders kept): download to a
 * temp name, fsync, link into place without overwriting (a taken name gets ` (1)`, ` (2)`…), and
 * only then delete it from the cloud. A file already in `_inbox` under that name with the same bytes is
 * not copied again (it was moved by a run that stopped before the cloud delete). Resolves with the
 * new names, relative to `_inbox`.
 * Nothing is ever written through a symlink (`_inbox` or a folder under it); a file whose name the
 * workspace cannot hold (or that would go through a link) stays in the cloud, is reported through
 * `onSkipped`, and never stops the others.
 * With `dryRun`, lists what would move and changes nothing.
 */
export async function drainOutbox(options: DrainOptions): Promise<string[]> {
  const { provider, logger, signal } = options;
  const outbox = joinRemotePath(options.remoteDir, OUTBOX_DIR);
  const listing = await listRemote(provider, outbox, { filter: options.filter, keyOf: (p) => p, signal });
  const skip = (p: string, reason: string): void => {
    logger.warn(`[workspace-sync] Mailbox: leaving ${OUTBOX_DIR}/${p} in the cloud: ${reason}`);
    options.onSkipped?.({ path: `${OUTBOX_DIR}/${p}`, reason });
  };
  for (const s of listing.skipped) skip(s.path, s.reason);
  const files = [...listing.files.values()];
  if (options.dryRun) return files.map((f) => f.path);
  const wfs = options.wfs ?? (await WorkspaceFs.open(options.workspace));
  const token = options.token ?? installToken();
  const moved: string[] = [];
  const listSource = provider.capabilities.listMtime === "source";
  /**
   * Deletes the cloud copy of `f`, now in `_inbox`, only while it is still the version listed: a
   * newer one the user put there meanwhile (during a download of any length) is kept, and the
   * next run moves it in beside the first.
   */
  const removeIfAsListed = async (f: RemoteFile, remoteFull: string, signal: AbortSignal | undefined): Promise<boolean> => {
    const now = await versionNow(provider, remoteFull, f, signal);
    if (now === "changed") logger.warn(`[workspace-sync] Mailbox: ${OUTBOX_DIR}/${f.path} changed in the cloud while it was moved: the new version stays there for the next run`);
    if (now !== "same") return false;
    await provider.delete(remoteFull, { signal });
    return true;
  };
  await forEachLimit(
    files,
    options.concurrency,
    async (f, _i, signal) => {
      throwIfAborted(signal);
      const targetRel = `${INBOX_DIR}/${f.path}`;
      const remoteFull = joinRemotePath(outbox, f.path);
      try {
        // Already there with the same bytes (a run that stopped between the copy and the cloud delete,
        // or the same file sent twice): just finish the move. Looked at only through real folders.
        const slash = targetRel.lastIndexOf("/");
        const existing = await wfs
          .verifyDir(targetRel.slice(0, slash))
          .then(() => fsp.lstat(wfs.abs(targetRel)))
          .catch((err: unknown) => {
            if (isLocalNameProblem(err)) throw err;
            return undefined;
          });
        if (existing?.isFile() && existing.size === f.size && (await compareContent(provider, wfs.source(targetRel), f, remoteFull, signal))) {
          if (await removeIfAsListed(f, remoteFull, signal)) logger.debug?.(`[workspace-sync] Mailbox: ${f.path} was already in _inbox; removed from the cloud _outbox`);
          return;
        }
        const { finalRel } = await downloadFile(provider, remoteFull, wfs, token, targetRel, {
          noClobber: true,
          mtimeMs: listSource ? f.mtimeMs : undefined,
          signal,
        });
        await removeIfAsListed(f, remoteFull, signal);
        const rel = finalRel.slice(INBOX_DIR.length + 1);
        logger.debug?.(`[workspace-sync] Mailbox: moved ${f.path} → _inbox/${rel}`);
        moved.push(rel);
      } catch (err) {
        if (options.signal?.aborted || !isLocalNameProblem(err)) throw err;
        skip(f.path, nameProblemReason(err));
      }
    },
    signal,
  );
  return moved.sort();
}
