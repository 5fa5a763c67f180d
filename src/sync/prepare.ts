/**
 * The first step of the push and bisync parts: load the state, list both sides at once, settle
 * name clashes, and set aside what is out of scope on both sides.
 */
import { WorkspaceSyncError, throwIfAborted, toWorkspaceSyncError } from "../errors.js";
import { bootId } from "../util/boot-id.js";
import { localChanged, localFromState, localMatches, remoteFromState, remoteMatches } from "./deltas.js";
import { finishListing, listLocal, listRemote, rebaseOnState, resolveClashes, startListing, walkLocal, walkRemote, type KnownFiles, type LocalListOptions, type Listing, type Walked } from "./listing.js";
import { folderOf, readFolderDigests } from "./folder-digest.js";
import type { RemoteEntry } from "../providers/types.js";
import { protectedPrefixes, type FoldersSetAside, type Prepared, type RunContext } from "./run-context.js";
import { applyBlocked } from "./scope.js";
import { PackedLocalFiles } from "./local-records.js";
import { loadRunState, loadStateHead, type RunState, type StateHeadFields } from "./state.js";
import { CompactStateFiles, UnreadStateFiles, keepOnly, type StateFiles } from "./state-files.js";
import type { LocalFile, RemoteFile, SkipNote } from "./types.js";

/** Loads the state and both listings, resolves clashes and scope; throws (nothing changed) when a listing fails. */
export async function prepare(ctx: RunContext): Promise<Prepared> {
  const head = await digestHead(ctx);
  if (head !== undefined) {
    const byFolders = await listAndPrepare(ctx, (entries) => prepareByFolders(ctx, entries, head));
    if (byFolders !== undefined) return byFolders;
    // The state's files could not be read after all (damaged): listed again, as without digests.
  }
  return listAndPrepare(ctx, (entries) => prepareWith(ctx, entries));
}

/** Runs `step` over a cloud listing started first: a cloud provider's first page request is under way while the state is read. */
async function listAndPrepare<T>(ctx: RunContext, step: (entries: AsyncIterable<RemoteEntry>) => Promise<T>): Promise<T> {
  const remoteListing = startListing(ctx.provider, ctx.remoteDir, ctx.signal);
  try {
    return await step(remoteListing.entries);
  } finally {
    // A no-op once read to the end; ends a listing never read (the state failed to load).
    await remoteListing.cancel();
  }
}

/** The state's first line with both sides' digests, where this run can check folders against them (see `folder-digest.ts`). */
interface DigestHead {
  head: StateHeadFields;
  local: Map<string, string>;
  remote: Map<string, string>;
}

/**
 * The state's digests, when a run can use them: the provider lists folder by folder and spells
 * names as they are, the state is this mode's and filters', of this boot, and no step after the
 * push reads the state's records (mirror ingest) or reports the plan (a dry run).
 */
async function digestHead(ctx: RunContext): Promise<DigestHead | undefined> {
  const caps = ctx.provider.capabilities;
  if (caps.listsFolderByFolder !== true || caps.caseInsensitive || ctx.dryRun || (ctx.mode === "mirror" && ctx.settings.ingest)) return undefined;
  const head = await loadStateHead(ctx.stateFile, ctx.identity);
  if (head === undefined || head.mode !== ctx.mode || head.filtersHash !== ctx.filter.hash) return undefined;
  if (head.bootId !== undefined && head.bootId !== bootId()) return undefined;
  const digests = readFolderDigests(head.folders);
  // (Held once, as maps: the head's copy is not kept.)
  delete head.folders;
  return digests && { head, ...digests };
}

/** Keys whose files always keep their records (the protected folders' steps read more of them than the state keeps). */
function recordKeys(ctx: RunContext): ((key: string) => boolean) | undefined {
  const prefixes = protectedPrefixes(ctx);
  return prefixes.length > 0 ? (k) => prefixes.some((p) => k.startsWith(p)) : undefined;
}

/** The workspace listing's options, but for the state. */
function localListOptions(ctx: RunContext): LocalListOptions {
  return {
    filter: ctx.filter,
    copySymlinks: ctx.settings.copySymlinks === true,
    ignoredNames: ctx.provider.capabilities.ignoredNames,
    keyOf: ctx.keyOf,
    syncToken: ctx.token,
    providerTempKind: ctx.provider.tempFileKind?.bind(ctx.provider),
    signal: ctx.signal,
  };
}

/** Both listings at once; throws the first failure, named for its side. */
async function bothSides<L, R>(local: Promise<L>, remote: Promise<R>, ctx: RunContext): Promise<[L, R]> {
  const [localRes, remoteRes] = await Promise.allSettled([local, remote]);
  if (localRes.status === "rejected") throw wrapListingError(localRes.reason, `the workspace ${ctx.workspace}`);
  if (remoteRes.status === "rejected") throw wrapListingError(remoteRes.reason, `the cloud folder ${ctx.remoteLabel}`);
  return [localRes.value, remoteRes.value];
}

/**
 * Both sides listed and checked folder by folder against the state's digests; the state's files
 * are read only when some folder changed (and then its unchanged folders are held as marks, as a
 * listing given the state holds each unchanged file). `undefined` when they could not be read.
 */
async function prepareByFolders(ctx: RunContext, remoteEntries: AsyncIterable<RemoteEntry>, d: DigestHead): Promise<Prepared | undefined> {
  const needsRecord = recordKeys(ctx);
  const [lw, rw] = await bothSides(
    walkLocal(ctx.workspace, { ...localListOptions(ctx), folders: { expected: d.local, needsRecord } }),
    walkRemote(ctx.provider, ctx.remoteDir, { filter: ctx.filter, keyOf: ctx.keyOf, signal: ctx.signal, entries: remoteEntries, folders: { expected: d.remote, needsRecord } }),
    ctx,
  );
  if (lw.check!.unchanged() && rw.check!.unchanged()) {
    throwIfAborted(ctx.signal);
    ctx.logger.info(`[workspace-sync] Every folder is as the last sync left it (${d.local.size} checked on each side): nothing to do`);
    const local = finishListing(lw, ctx.keyOf, "local");
    const remote = finishListing(rw, ctx.keyOf, "remote");
    settle(ctx, undefined, local, remote);
    const files = new UnreadStateFiles(ctx.stateFile);
    return { state: { ...d.head, files }, priorFiles: files, local, remote, noDeletes: false, unchanged: true };
  }
  const aside = foldersSetAside(lw, rw, ctx.keyOf, needsRecord, d.head.savedAt);
  // (Unreadable: listed again without digests, where the state's problem is reported.)
  const state = await loadRunState(ctx.stateFile, ctx.identity, undefined, aside);
  // (Its digests are kept only where the entries are the ones they were computed from.)
  if (state === undefined || state.savedAt !== d.head.savedAt || state.folders === undefined) return undefined;
  // (A file the state holds under the name of a folder set aside or one above it: the checks across folders need them both; read whole.)
  if (aside !== undefined && state.files.keys().some(foldersAtOrAbove(aside.folders))) return undefined;
  if (aside !== undefined) ctx.logger.info(`[workspace-sync] ${aside.folders.size} folder(s) as the last sync left them on both sides: their ${aside.count} file(s) carried over unread`);
  const known: KnownFiles = { files: state.files, needsRecord };
  const local = finishListing(rebaseOnState(lw, known, ctx.keyOf, localFromState, (f, s) => localMatches(s.local, f), new PackedLocalFiles()), ctx.keyOf, "local");
  const remote = finishListing(rebaseOnState(rw, known, ctx.keyOf, remoteFromState, (f, s) => remoteMatches(s.remote, f)), ctx.keyOf, "remote");
  return { state, priorFiles: settle(ctx, state, local, remote), local, remote, noDeletes: false, ...(aside && { aside }) };
}

/**
 * The folders found as the state records them on both sides whose files no step of this run can
 * see: their state entries are not read (the run holds neither their records nor their entries,
 * and saving carries the entries over as they are). Every check that looks across folders reads
 * the folders a listing's files lie in (a file named like a folder, the workspace spelling of a
 * folder a download goes to): a folder stays in when a name the run holds (a file listed, a
 * blocked name) could meet its files there. That is a folder the name lies in or above (its
 * files' folders), one the name is or lies above (a folder named like the file, or under a blocked
 * name), and, for a name spelled otherwise than its key, any folder under the folders above it
 * but the top (which give those folders their workspace spelling). `undefined` when none is left.
 */
function foldersSetAside(lw: Walked<LocalFile>, rw: Walked<RemoteFile>, keyOf: (p: string) => string, needsRecord: ((key: string) => boolean) | undefined, savedAt: string): FoldersSetAside | undefined {
  const folders = new Set<string>();
  for (const f of lw.check!.clean) if (rw.check!.clean.has(f)) folders.add(f);
  if (folders.size === 0) return undefined;
  /** Names no set-aside folder may be at or under. */
  const met = new Set<string>();
  const meets = (path: string): void => {
    const key = keyOf(path);
    met.add(key);
    // The folders it lies in; spelled otherwise than its key, their workspace spelling comes from
    // the files under them (the top's is never looked up: it has none).
    for (let dir = key; dir !== ""; ) {
      dir = folderOf(dir);
      folders.delete(dir);
      if (key !== path && dir !== "") met.add(dir);
    }
  };
  for (const f of lw.found) meets(f.path);
  for (const f of rw.found) meets(f.path);
  for (const b of lw.blocked) meets(b);
  for (const b of rw.blocked) meets(b);
  for (const dir of [...folders]) if (atOrUnder(dir, met)) folders.delete(dir);
  if (folders.size === 0) return undefined;
  return { folders, count: 0, savedAt, holds: (key) => folders.has(folderOf(key)) && needsRecord?.(key) !== true };
}

async function prepareWith(ctx: RunContext, remoteEntries: AsyncIterable<RemoteEntry>): Promise<Prepared> {
  let state = await loadRunState(ctx.stateFile, ctx.identity, (m) => ctx.logger.warn(`[workspace-sync] ${m}`));
  if (state && state.mode !== ctx.mode) {
    ctx.logger.info(`[workspace-sync] Mode changed from ${state.mode} to ${ctx.mode}: this run merges without deleting`);
    state = undefined;
  }
  let restarted = false;
  if (state?.bootId !== undefined && state.bootId !== bootId()) {
    // Written before a restart by a run whose small files were not flushed one by one: a power cut
    // may have left some empty under their names. A merge compares instead of trusting it.
    // (Its ingest records describe workspace files, which are flushed one by one: kept.)
    ctx.logger.info("[workspace-sync] The machine restarted since the last sync, whose last writes were not flushed one by one: this run merges without deleting");
    state = { ...state, files: new CompactStateFiles(), folders: undefined };
    restarted = true;
  }
  let noDeletes = state === undefined || restarted;
  if (state && state.filtersHash !== ctx.filter.hash) {
    ctx.logger.info("[workspace-sync] Exclude settings changed since the last sync: this run merges without deleting");
    noDeletes = true;
  }
  // Files both listings find exactly as the state records them are held as one-byte marks,
  // not as records (listing.ts, FileIndex). The protected folders' files keep their records: their
  // steps (ingest, the outbox drain) read more of them than the state keeps.
  const known: KnownFiles | undefined = state ? { files: state.files, needsRecord: recordKeys(ctx) } : undefined;
  const [local, remote] = await bothSides(
    listLocal(ctx.workspace, { ...localListOptions(ctx), known }),
    listRemote(ctx.provider, ctx.remoteDir, { filter: ctx.filter, keyOf: ctx.keyOf, signal: ctx.signal, known, entries: remoteEntries }),
    ctx,
  );
  return { state, priorFiles: settle(ctx, state, local, remote), local, remote, noDeletes };
}

/**
 * The listings' last steps: clashes resolved, skips logged, names out of scope set aside on both
 * sides. Returns the state's files that stay in scope (`undefined` without a state).
 */
function settle(ctx: RunContext, state: RunState | undefined, local: Listing<LocalFile>, remote: Listing<RemoteFile>): StateFiles | undefined {
  // Two workspace names for one cloud name (`code/a.txt` and `CODE/a.txt` on Dropbox): keep syncing
  // the one synced before (it matches the state, or the cloud spelling), so a new twin never
  // replaces its cloud copy; the other is skipped and reported.
  const prior = state?.files;
  resolveClashes(local, (key, variants) => {
    const s = prior?.get(key);
    const synced = s ? variants.find((v) => !localChanged(v, s.local)) : undefined;
    if (synced) return synced;
    const r = remote.files.get(key);
    const spelled = r ? (variants.find((v) => v.path === r.path) ?? variants.find((v) => v.path.normalize("NFC") === r.path.normalize("NFC"))) : undefined;
    return spelled ?? variants[0]!;
  });
  // A name either side cannot sync (a workspace symlink, special file or clash; a cloud name the
  // workspace cannot hold) is out of scope on both sides, and so is everything under a workspace
  // symlink: never written over, never deleted, and its state entry set aside.
  const inScope = applyBlocked(local, remote, ctx.keyOf);
  for (const s of local.skipped) logSkip(ctx, s);
  if (!state) return undefined;
  // The state's own files when every entry stays in scope (no copy).
  const files = state.files;
  const keep = (k: string): boolean => !ctx.filter.excluded(k) && inScope(k);
  return files.keys().every(keep) ? files : keepOnly(files, keep);
}

/** A name the provider refuses is routine (info); a clash or an unreadable name needs the user (warn). */
function logSkip(ctx: RunContext, s: SkipNote): void {
  if (s.kind === "ignored-name") ctx.logger.info(`[workspace-sync] Skipping ${s.path}: ${s.reason}`);
  else if (s.kind === "name-clash" || s.kind === "non-utf8") ctx.logger.warn(`[workspace-sync] Skipping ${s.path}: ${s.reason}`);
}

function wrapListingError(err: unknown, what: string): WorkspaceSyncError {
  const e = toWorkspaceSyncError(err);
  if (e.code === "ABORTED" || e.code === "TIMEOUT") return e;
  return new WorkspaceSyncError(e.code, `Could not list ${what}; nothing was changed: ${e.message}`, { path: e.path, cause: err, retryable: e.retryable });
}

/** True when `dir` or a folder above it (the top, `""`, included) is one of `names`. */
function atOrUnder(dir: string, names: ReadonlySet<string>): boolean {
  for (let d = dir; ; d = folderOf(d)) {
    if (names.has(d)) return true;
    if (d === "") return false;
  }
}

/** The test for a file key that is one of `folders` or a folder above one (a file named like it). */
function foldersAtOrAbove(folders: ReadonlySet<string>): (key: string) => boolean {
  const dirs = new Set<string>();
  for (const f of folders) for (let d = f; d !== "" && !dirs.has(d); d = folderOf(d)) dirs.add(d);
  return (key) => dirs.has(key);
}
