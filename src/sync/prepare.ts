/**
 * The first step of the push and bisync parts: load the state, list both sides at once, settle
 * name clashes, and set aside what is out of scope on both sides.
 */
import { WorkspaceSyncError, toWorkspaceSyncError } from "../errors.js";
import { bootId } from "../util/boot-id.js";
import { localChanged } from "./deltas.js";
import { listLocal, listRemote, resolveClashes, startListing, type KnownFiles } from "./listing.js";
import type { RemoteEntry } from "../providers/types.js";
import { protectedPrefixes, type Prepared, type RunContext } from "./run-context.js";
import { applyBlocked } from "./scope.js";
import { loadRunState } from "./state.js";
import { CompactStateFiles, keepOnly, type StateFiles } from "./state-files.js";
import type { SkipNote } from "./types.js";

/** Loads the state and both listings, resolves clashes and scope; throws (nothing changed) when a listing fails. */
export async function prepare(ctx: RunContext): Promise<Prepared> {
  // The cloud listing starts first: a cloud provider's first page request is under way while the
  // state is read (~0.15 s of the main thread for 40 000 files).
  const remoteListing = startListing(ctx.provider, ctx.remoteDir, ctx.signal);
  try {
    return await prepareWith(ctx, remoteListing.entries);
  } finally {
    // A no-op once read to the end; ends a listing never read (the state failed to load).
    await remoteListing.cancel();
  }
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
    state = { ...state, files: new CompactStateFiles() };
    restarted = true;
  }
  let noDeletes = state === undefined || restarted;
  if (state && state.filtersHash !== ctx.filter.hash) {
    ctx.logger.info("[workspace-sync] Exclude settings changed since the last sync: this run merges without deleting");
    noDeletes = true;
  }
  const ignoredNames = ctx.provider.capabilities.ignoredNames;
  // Files both listings find exactly as the state records them are held as one-byte marks,
  // not as records (listing.ts, FileIndex). The protected folders' files keep their records: their
  // steps (ingest, the outbox drain) read more of them than the state keeps.
  const prefixes = protectedPrefixes(ctx);
  const known: KnownFiles | undefined = state ? { files: state.files, needsRecord: prefixes.length > 0 ? (k) => prefixes.some((p) => k.startsWith(p)) : undefined } : undefined;
  const [localRes, remoteRes] = await Promise.allSettled([
    listLocal(ctx.workspace, {
      filter: ctx.filter,
      copySymlinks: ctx.settings.copySymlinks === true,
      ignoredNames,
      keyOf: ctx.keyOf,
      syncToken: ctx.token,
      providerTempKind: ctx.provider.tempFileKind?.bind(ctx.provider),
      signal: ctx.signal,
      known,
    }),
    listRemote(ctx.provider, ctx.remoteDir, { filter: ctx.filter, keyOf: ctx.keyOf, signal: ctx.signal, known, entries: remoteEntries }),
  ]);
  if (localRes.status === "rejected") {
    throw wrapListingError(localRes.reason, `the workspace ${ctx.workspace}`);
  }
  if (remoteRes.status === "rejected") {
    throw wrapListingError(remoteRes.reason, `the cloud folder ${ctx.remoteLabel}`);
  }
  const local = localRes.value;
  const remote = remoteRes.value;
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
  for (const s of local.skipped) logSkip(ctx, s);
  // A name either side cannot sync (a workspace symlink, special file or clash; a cloud name the
  // workspace cannot hold) is out of scope on both sides, and so is everything under a workspace
  // symlink: never written over, never deleted, and its state entry set aside.
  const inScope = applyBlocked(local, remote, ctx.keyOf);
  let priorFiles: StateFiles | undefined;
  if (state) {
    // The state's own files when every entry stays in scope (no copy).
    const files = state.files;
    const keep = (k: string): boolean => !ctx.filter.excluded(k) && inScope(k);
    priorFiles = files.keys().every(keep) ? files : keepOnly(files, keep);
  }
  return { state, priorFiles, local, remote, noDeletes };
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
