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
import { forEachLimit } from "./limit.js";
import { listRemote } from "./listing.js";
import { compareContent, downloadFile } from "./transfer.js";

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

/** Makes sure cloud `_outbox/` and workspace `_inbox/` exist. */
export async function ensureMailboxFolders(provider: StorageProvider, remoteDir: string, workspace: string, logger: Logger, signal?: AbortSignal): Promise<void> {
  const outbox = joinRemotePath(remoteDir, OUTBOX_DIR);
  try {
    await provider.ensureDir(outbox, { signal });
    logger.info(`[workspace-sync] Mailbox: ensured cloud _outbox at ${provider.description}/${outbox}`);
  } catch (err) {
    logger.warn(`[workspace-sync] Mailbox: failed to create cloud _outbox: ${toWorkspaceSyncError(err).message}`);
  }
  const inbox = path.join(workspace, INBOX_DIR);
  const existed = await fsp.stat(inbox).then(() => true, () => false);
  await fsp.mkdir(inbox, { recursive: true }).catch((err) => {
    throw toWorkspaceSyncError(err);
  });
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
}

/**
 * Moves every file under cloud `_outbox/` into workspace `_inbox/` (sub-folders kept): download to a
 * temp name, fsync, link into place without overwriting (a taken name gets ` (1)`, ` (2)`…), and
 * only then delete it from the cloud. A file already in `_inbox` under that name with the same bytes is
 * not copied again (it was moved by a run that stopped before the cloud delete). Resolves with the
 * new names, relative to `_inbox`.
 * With `dryRun`, lists what would move and changes nothing.
 */
export async function drainOutbox(options: DrainOptions): Promise<string[]> {
  const { provider, logger, signal } = options;
  const outbox = joinRemotePath(options.remoteDir, OUTBOX_DIR);
  const inbox = path.join(options.workspace, INBOX_DIR);
  const listing = await listRemote(provider, outbox, { filter: options.filter, keyOf: (p) => p, signal });
  const files = [...listing.files.values()];
  if (options.dryRun) return files.map((f) => f.path);
  const moved: string[] = [];
  const listSource = provider.capabilities.listMtime === "source";
  await forEachLimit(
    files,
    options.concurrency,
    async (f) => {
      throwIfAborted(signal);
      const target = path.join(inbox, ...f.path.split("/"));
      const remoteFull = joinRemotePath(outbox, f.path);
      // Already there with the same bytes (a run that stopped between the copy and the cloud delete,
      // or the same file sent twice): just finish the move.
      const existing = await fsp.lstat(target).catch(() => undefined);
      if (existing?.isFile() && existing.size === f.size && (await compareContent(provider, target, f, remoteFull, signal))) {
        await provider.delete(remoteFull, { signal });
        logger.debug?.(`[workspace-sync] Mailbox: ${f.path} was already in _inbox; removed from the cloud _outbox`);
        return;
      }
      const { finalPath } = await downloadFile(provider, remoteFull, target, {
        noClobber: true,
        mtimeMs: listSource ? f.mtimeMs : undefined,
        signal,
      });
      await provider.delete(remoteFull, { signal });
      const rel = path.relative(inbox, finalPath).split(path.sep).join("/");
      logger.debug?.(`[workspace-sync] Mailbox: moved ${f.path} → _inbox/${rel}`);
      moved.push(rel);
    },
    signal,
  );
  return moved.sort();
}
