/**
 * What one sync run carries from step to step (settings, provider, workspace, signal, the guarded
 * file system), and the steps every mode shares at its edges: opening the workspace, the new state
 * record, the success result, the clean-up of this install's leftovers.
 */
import { promises as fsp } from "node:fs";
import type { SyncMode, SyncSettings } from "../config/types.js";
import { WorkspaceSyncError, errorMessage, toWorkspaceSyncError } from "../errors.js";
import type { Logger } from "../logger.js";
import { normalizeRemotePath } from "../providers/paths.js";
import type { StorageProvider } from "../providers/types.js";
import { WorkspaceFs } from "../util/safe-fs.js";
import { bootId } from "../util/boot-id.js";
import { ContentComparer } from "./compare.js";
import type { ExecuteOutcome } from "./execute.js";
import type { SyncFilter } from "./filters.js";
import type { Listing } from "./listing.js";
import { INBOX_DIR, OUTBOX_DIR } from "./mailbox.js";
import { removeStaleTemps, STALE_TEMP_MS } from "./scope.js";
import { saveState, type RunState, type SetAside, type StateIdentity } from "./state.js";
import { UnreadStateFiles, sameStateFiles, type StateFiles } from "./state-files.js";
import { folderDigestsWithTurns, readFolderDigests } from "./folder-digest.js";
import { EVENT_LOOP_TURN_MS } from "../util/concurrency.js";
import { setImmediate as turn } from "node:timers/promises";
import type { LocalFile, RemoteFile, RemoteSignature, SkipNote, SyncRunSuccess } from "./types.js";

/** One run's settings and handles. */
export interface RunContext {
  provider: StorageProvider;
  settings: SyncSettings;
  mode: SyncMode;
  workspace: string;
  remoteDir: string;
  stateFile: string;
  identity: StateIdentity;
  filter: SyncFilter;
  keyOf: (p: string) => string;
  logger: Logger;
  signal: AbortSignal;
  dryRun: boolean;
  concurrency: number;
  remoteLabel: string;
  onInboxFiles: ((names: string[], text: string) => void | Promise<void>) | undefined;
  /** This install's temp-name token (kept in the state folder). */
  token: string;
  /** The guarded workspace, opened by {@link ensureWorkspace}. */
  wfs: WorkspaceFs | undefined;
}

/** Listings, plan inputs and the state for the push or bisync part of a run (see `prepare.ts`). */
export interface Prepared {
  state: RunState | undefined;
  priorFiles: StateFiles | undefined;
  local: Listing<LocalFile>;
  remote: Listing<RemoteFile>;
  noDeletes: boolean;
  /**
   * Every folder of both sides was found as the state records it (see `folder-digest.ts`): there is
   * nothing to do, and the state's files were not read (`state.files` and `priorFiles` must not be).
   */
  unchanged?: boolean;
  /**
   * Folders found as the state records them on both sides whose state entries were not read: in
   * neither listing nor `priorFiles`, counted, and carried over when the state is saved.
   */
  aside?: FoldersSetAside;
}

/** The folders of {@link Prepared.aside}: the entries left unread in the state file. */
export interface FoldersSetAside extends SetAside {
  folders: ReadonlySet<string>;
}

/** The run's comparer (one per run: it remembers each cloud object's `stat()`). */
export function comparerFor(ctx: RunContext): ContentComparer {
  return new ContentComparer({ provider: ctx.provider, workspace: ctx.workspace, wfs: ctx.wfs, remoteDir: ctx.remoteDir, concurrency: ctx.concurrency, signal: ctx.signal });
}

/** Key prefixes the push/bisync plan leaves alone: mailbox `_inbox/`, `_outbox/`; the mirror ingest folder. */
export function protectedPrefixes(ctx: RunContext): string[] {
  if (ctx.mode === "mailbox") return [ctx.keyOf(`${INBOX_DIR}/`), ctx.keyOf(`${OUTBOX_DIR}/`)];
  if (ctx.mode === "mirror" && ctx.settings.ingest) return [ctx.keyOf(`${normalizeRemotePath(ctx.settings.ingestPath || "inbox")}/`)];
  return [];
}

/** Creates the workspace folder (not on a dry run) and opens the guarded file system on it. */
export async function ensureWorkspace(ctx: RunContext): Promise<void> {
  if (!ctx.dryRun) {
    await fsp.mkdir(ctx.workspace, { recursive: true }).catch((err) => {
      throw toWorkspaceSyncError(err);
    });
  }
  ctx.wfs = await WorkspaceFs.open(ctx.workspace, "the workspace", { readsFollowLinks: ctx.settings.copySymlinks === true });
}

/**
 * Saves the state after a fully successful run. Where the provider flushes small files lazily
 * (`capabilities.lazyFlush`), the state records this boot: after a restart it is unconfirmed (see
 * `prepare.ts`).
 */
export async function saveRunState(ctx: RunContext, state: RunState, prior?: RunState, aside?: FoldersSetAside): Promise<void> {
  const boot = ctx.provider.capabilities.lazyFlush ? bootId() : undefined;
  if (boot !== undefined) state.bootId = boot;
  // Every folder found as the state records it: the state's files were not even read.
  if (state.files instanceof UnreadStateFiles) return;
  const byFolders = ctx.provider.capabilities.listsFolderByFolder === true;
  // A run that changed nothing keeps the state file as it is (no rewrite of every entry), unless
  // it lacks the digests a later run can use (or the word that none are kept).
  if (prior && sameState(prior, state) && (!byFolders || prior.folders !== undefined)) return;
  if (byFolders) state.folders = await folderDigestsWithTurns(state.files, prior && { files: prior.files, folders: prior.folders }, turn, EVENT_LOOP_TURN_MS);
  if (aside !== undefined) carryAsideDigests(state, prior, aside);
  await saveState(ctx.stateFile, state, aside);
}

/**
 * The digests of the folders whose entries a run carries over unread (see {@link Prepared.aside}):
 * the prior state's, as they were found. Checks that none of the run's own entries is of those
 * folders (the carried line would then stand beside it).
 */
function carryAsideDigests(state: RunState, prior: RunState | undefined, aside: FoldersSetAside): void {
  if (state.files.keys().some((k) => aside.holds(k))) {
    throw new WorkspaceSyncError("INTERNAL_ERROR", "A sync planned a file in a folder it had set aside as unchanged; the state was not saved (the next run compares again): report this");
  }
  const before = readFolderDigests(prior?.folders);
  const { local, remote } = state.folders ?? {};
  // (No digests at all when a folder of the run's own is over the limit: none is kept then.)
  if (local === undefined || remote === undefined) return;
  for (const dir of aside.folders) {
    const l = before?.local.get(dir);
    const r = before?.remote.get(dir);
    if (l === undefined || r === undefined) throw new WorkspaceSyncError("INTERNAL_ERROR", "A folder set aside as unchanged has no digest in the state it was read from: report this");
    local[dir] = l;
    remote[dir] = r;
  }
}

/** True when `next` records exactly what `prior` does. */
function sameState(prior: RunState, next: RunState): boolean {
  if (prior.version !== next.version || prior.mode !== next.mode || prior.filtersHash !== next.filtersHash || prior.bootId !== next.bootId) return false;
  if (prior.description !== next.description || prior.remotePath !== next.remotePath || prior.workspace !== next.workspace) return false;
  if (prior.ingested !== undefined || next.ingested !== undefined) return false;
  // The run's own entries come first in `next`: a change is found at once.
  return sameStateFiles(next.files, prior.files);
}

/** The state record to save after a fully successful run. */
export function newState(ctx: RunContext, files: StateFiles, ingested?: Record<string, RemoteSignature>): RunState {
  const s: RunState = {
    version: 1,
    mode: ctx.mode,
    description: ctx.identity.description,
    remotePath: ctx.identity.remotePath,
    workspace: ctx.identity.workspace,
    filtersHash: ctx.filter.hash,
    savedAt: new Date().toISOString(),
    files,
  };
  if (ingested) s.ingested = ingested;
  return s;
}

/** The success result (sorted, de-duplicated lists), logged in one line. */
export function success(ctx: RunContext, outcome: ExecuteOutcome, inboxFiles: string[], skipped: SkipNote[]): SyncRunSuccess {
  const result: SyncRunSuccess = {
    ok: true,
    mode: ctx.mode,
    uploaded: sortedUnique(outcome.uploaded),
    downloaded: sortedUnique(outcome.downloaded),
    deleted: sortedUnique(outcome.deleted),
    conflicts: sortedUnique(outcome.conflicts),
    inboxFiles,
  };
  // The kind is for the code that logs and resolves clashes; the result keeps path and reason.
  if (skipped.length > 0) result.skipped = skipped.map((s) => ({ path: s.path, reason: s.reason }));
  if (ctx.dryRun) result.dryRun = true;
  ctx.logger.info(
    `[workspace-sync] ${ctx.dryRun ? "Dry run: would transfer" : "Transferred"} ${result.uploaded.length} up, ${result.downloaded.length} down; ` +
      `${result.deleted.length} deleted, ${result.conflicts.length} conflict(s)${inboxFiles.length ? `, ${inboxFiles.length} new in the inbox` : ""}`,
  );
  return result;
}

/**
 * `a` sorted with repeats removed, in place (the outcome's lists are the run's own): a first run's
 * list of 100 000 uploads is not copied into a set and an array at the end of the run.
 */
function sortedUnique(a: string[]): string[] {
  a.sort();
  let n = 0;
  for (let i = 0; i < a.length; i++) if (i === 0 || a[i] !== a[n - 1]) a[n++] = a[i]!;
  a.length = n;
  return a;
}

/** When this process last cleaned up provider leftovers, by provider and cloud folder. */
const lastProviderCleanup = new Map<string, number>();

/**
 * After a successful run: removes this install's own leftovers (sync download temps in the
 * workspace, the provider's visible upload temps in the cloud folder) that no run can still be
 * writing. Only names carrying this install's token; failures are only logged.
 */
export async function cleanUpLeftovers(ctx: RunContext, p: Prepared | undefined): Promise<void> {
  if (ctx.dryRun || ctx.signal.aborted) return;
  if (p?.local.ownTemps?.length) {
    const removed = await removeStaleTemps(ctx.wfs!, p.local.ownTemps, Date.now() - STALE_TEMP_MS);
    if (removed > 0) ctx.logger.info(`[workspace-sync] Removed ${removed} download temp file(s) left by an interrupted sync`);
  }
  // Only backends whose temp files are visible as files can tell theirs apart; multipart uploads
  // and upload sessions carry no marker, so they are left to the backend's own expiry. The walk
  // costs a pass over the cloud folder, and a leftover only counts once idle for STALE_TEMP_MS:
  // at most once per that period per folder in one process.
  const key = `${ctx.provider.description}\n${ctx.remoteDir}`;
  const last = lastProviderCleanup.get(key);
  if (ctx.provider.tempFileKind && (last === undefined || Date.now() - last >= STALE_TEMP_MS)) {
    lastProviderCleanup.set(key, Date.now());
    try {
      const removed = await ctx.provider.cleanupIncomplete(ctx.remoteDir, STALE_TEMP_MS, { signal: ctx.signal, match: (rel) => !ctx.filter.excluded(rel) });
      if (removed > 0) ctx.logger.info(`[workspace-sync] Removed ${removed} partial upload(s) left by an interrupted sync`);
    } catch (err) {
      ctx.logger.warn(`[workspace-sync] Could not clean up partial uploads: ${errorMessage(err)}`);
    }
  }
}
