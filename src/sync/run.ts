/**
 * One sync run over a {@link StorageProvider}: lock, list both sides, plan, check safety, execute,
 * save the state. Modes `mailbox`, `mirror` and `bisync` share these steps; they differ in the plan
 * rules and in the extra drain (mailbox) or ingest (mirror) step.
 */
import { setMaxListeners } from "node:events";
import { promises as fsp } from "node:fs";
import path from "node:path";
import type { SyncMode, SyncSettings } from "../config/types.js";
import { WorkspaceSyncError, abortError, errorMessage, throwIfAborted, toWorkspaceSyncError } from "../errors.js";
import { silentLogger, type Logger } from "../logger.js";
import { setLongTimeout, type LongTimeout } from "../util/timers.js";
import { joinRemotePath, normalizeRemotePath } from "../providers/paths.js";
import type { StorageProvider } from "../providers/types.js";
import { localChanged, remoteChanged, remoteSignature } from "./deltas.js";
import { executePlan, localNamer, type ExecuteOutcome } from "./execute.js";
import { createFilter, type SyncFilter } from "./filters.js";
import { DEFAULT_SYNC_EXCLUDE as DEFAULT_EXCLUDE } from "../config/defaults.js";
import { planIngest } from "./ingest.js";
import { forEachLimit } from "./limit.js";
import { listLocal, listRemote, resolveClashes, type Listing } from "./listing.js";
import { drainOutbox, ensureMailboxFolders, formatInboxNotification, INBOX_DIR, OUTBOX_DIR } from "./mailbox.js";
import { planSync, conflictWinner, contentCheckCandidates } from "./plan.js";
import { checkSafety } from "./safety.js";
import { loadState, saveState, statePathFor, type StateIdentity } from "./state.js";
import { acquireLock } from "./lock.js";
import { downloadFile } from "./transfer.js";
import { COMPARE_BY_DOWNLOAD_LIMIT, ContentComparer, type ComparePair } from "./compare.js";
import { isLocalNameProblem, nameProblemReason, WorkspaceFs } from "../util/safe-fs.js";
import { installToken } from "../util/temp-names.js";
import { NON_UTF8_REASON } from "../util/utf8-names.js";
import { applyBlocked, removeStaleTemps, STALE_TEMP_MS } from "./scope.js";
import { syncFailure, type LocalFile, type RemoteFile, type RemoteSignature, type SkipNote, type StateEntry, type SyncAction, type SyncRunResult, type SyncRunSuccess, type SyncState } from "./types.js";

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

/** Runs one sync. Never throws: failures come back as `{ ok: false, error }`. */
export async function runSyncWithProvider(options: RunSyncWithProviderOptions): Promise<SyncRunResult> {
  const logger = options.logger ?? silentLogger;
  const { settings } = options;
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
  // Our own signal, listened on once per concurrent worker (plus listings): a known, bounded fan-out.
  setMaxListeners(Math.max(1, Math.floor(settings.concurrency || 4)) + 16, signal);

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
    filter: createFilter(settings.exclude ?? DEFAULT_EXCLUDE, settings.copySymlinks === true),
    // NFC so a macOS (NFD) name and the same name stored NFC in the cloud are one file, as rclone does.
    keyOf: options.provider.capabilities.caseInsensitive ? (p: string) => p.normalize("NFC").toLowerCase() : (p: string) => p.normalize("NFC"),
    logger,
    signal,
    dryRun: options.dryRun === true,
    concurrency: Math.max(1, Math.floor(settings.concurrency || 4)),
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

interface RunContext {
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
  onInboxFiles: RunSyncWithProviderOptions["onInboxFiles"];
  /** This install's temp-name token (kept in the state folder). */
  token: string;
  /** The guarded workspace, opened by {@link ensureWorkspace}. */
  wfs: WorkspaceFs | undefined;
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

/** Listings, plan inputs and the state for the push or bisync part of a run. */
interface Prepared {
  state: SyncState | undefined;
  priorFiles: Record<string, StateEntry> | undefined;
  local: Listing<LocalFile>;
  remote: Listing<RemoteFile>;
  noDeletes: boolean;
}

async function prepare(ctx: RunContext): Promise<Prepared> {
  let state = await loadState(ctx.stateFile, ctx.identity, (m) => ctx.logger.warn(`[workspace-sync] ${m}`));
  if (state && state.mode !== ctx.mode) {
    ctx.logger.info(`[workspace-sync] Mode changed from ${state.mode} to ${ctx.mode}: this run merges without deleting`);
    state = undefined;
  }
  let noDeletes = state === undefined;
  if (state && state.filtersHash !== ctx.filter.hash) {
    ctx.logger.info("[workspace-sync] Exclude settings changed since the last sync: this run merges without deleting");
    noDeletes = true;
  }
  const ignoredNames = ctx.provider.capabilities.ignoredNames;
  const [localRes, remoteRes] = await Promise.allSettled([
    listLocal(ctx.workspace, {
      filter: ctx.filter,
      copySymlinks: ctx.settings.copySymlinks === true,
      ignoredNames,
      keyOf: ctx.keyOf,
      syncToken: ctx.token,
      providerTempKind: ctx.provider.tempFileKind?.bind(ctx.provider),
      signal: ctx.signal,
    }),
    listRemote(ctx.provider, ctx.remoteDir, { filter: ctx.filter, keyOf: ctx.keyOf, signal: ctx.signal }),
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
    const s = prior?.[key];
    const synced = s ? variants.find((v) => !localChanged(v, s.local)) : undefined;
    if (synced) return synced;
    const r = remote.files.get(key);
    const spelled = r ? (variants.find((v) => v.path === r.path) ?? variants.find((v) => v.path.normalize("NFC") === r.path.normalize("NFC"))) : undefined;
    return spelled ?? variants[0]!;
  });
  for (const s of local.skipped) {
    if (s.reason.startsWith("the provider")) ctx.logger.info(`[workspace-sync] Skipping ${s.path}: ${s.reason}`);
    else if (s.reason.startsWith("differs only in") || s.reason === NON_UTF8_REASON) ctx.logger.warn(`[workspace-sync] Skipping ${s.path}: ${s.reason}`);
  }
  // A name either side cannot sync (a workspace symlink, special file or clash; a cloud name the
  // workspace cannot hold) is out of scope on both sides, and so is everything under a workspace
  // symlink: never written over, never deleted, and its state entry set aside.
  const inScope = applyBlocked(local, remote, ctx.keyOf);
  let priorFiles: Record<string, StateEntry> | undefined;
  if (state) {
    priorFiles = {};
    for (const [k, v] of Object.entries(state.files)) if (!ctx.filter.excluded(k) && inScope(k)) priorFiles[k] = v;
  }
  return { state, priorFiles, local, remote, noDeletes };
}

function wrapListingError(err: unknown, what: string): WorkspaceSyncError {
  const e = toWorkspaceSyncError(err);
  if (e.code === "ABORTED" || e.code === "TIMEOUT") return e;
  return new WorkspaceSyncError(e.code, `Could not list ${what}; nothing was changed: ${e.message}`, { path: e.path, cause: err, retryable: e.retryable });
}

/** The run's comparer (one per run: it remembers each cloud object's `stat()`). */
function comparerFor(ctx: RunContext): ContentComparer {
  return new ContentComparer({ provider: ctx.provider, workspace: ctx.workspace, remoteDir: ctx.remoteDir, concurrency: ctx.concurrency, signal: ctx.signal });
}

/**
 * What to compare, and how far to go, where sameness is unknown and matters (see `compare.ts`).
 * Without state or with changes on both sides, bisync may read both copies whatever their size
 * (a conflict copy costs more than a comparison) and the push modes up to
 * {@link COMPARE_BY_DOWNLOAD_LIMIT} (the alternative is an upload). With only one side moved the
 * transfer happens anyway unless a proof costs no request: the listing's source time or hash, or
 * cheap reads.
 */
function comparePairs(ctx: RunContext, p: Prepared, keys: readonly string[]): ComparePair[] {
  const caps = ctx.provider.capabilities;
  const canHash = typeof ctx.provider.hashLocalFile === "function";
  const pairs: ComparePair[] = [];
  for (const key of keys) {
    const s = p.priorFiles?.[key];
    const local = p.local.files.get(key)!;
    const remote = p.remote.files.get(key)!;
    if (s && !(localChanged(local, s.local) && remoteChanged(remote, s.remote))) {
      if (caps.listMtime === "source" || caps.cheapReads || (canHash && remote.hash !== undefined)) pairs.push({ key, local, remote, readLimit: 0 });
      continue;
    }
    pairs.push({ key, local, remote, readLimit: ctx.mode === "bisync" ? Number.POSITIVE_INFINITY : COMPARE_BY_DOWNLOAD_LIMIT });
  }
  return pairs;
}

function protectedPrefixes(ctx: RunContext): string[] {
  if (ctx.mode === "mailbox") return [ctx.keyOf(`${INBOX_DIR}/`), ctx.keyOf(`${OUTBOX_DIR}/`)];
  if (ctx.mode === "mirror" && ctx.settings.ingest) return [ctx.keyOf(`${normalizeRemotePath(ctx.settings.ingestPath || "inbox")}/`)];
  return [];
}

/** The push (mailbox, mirror) or bisync part: plan, safety, execute. Returns the outcome and the new files map. */
async function syncPart(ctx: RunContext, p: Prepared): Promise<{ outcome: ExecuteOutcome; skipped: SkipNote[] }> {
  const prefixes = protectedPrefixes(ctx);
  const inScope = (k: string): boolean => !prefixes.some((x) => k.startsWith(x));
  const candidates = contentCheckCandidates(p.local.files, p.remote.files, p.priorFiles).filter(inScope);
  const comparer = comparerFor(ctx);
  const equalContent = await comparer.findEqual(comparePairs(ctx, p, candidates));
  throwIfAborted(ctx.signal);
  const plan = planSync(p.local.files, p.remote.files, p.priorFiles, {
    mode: ctx.mode,
    conflictResolve: ctx.settings.conflictResolve ?? "newer",
    noDeletes: p.noDeletes,
    equalContent,
    protectedPrefixes: prefixes,
    keyOf: ctx.keyOf,
  });
  await useSourceMtimes(ctx, p, plan.actions, comparer);
  const count = (keys: Iterable<string>): number => {
    let n = 0;
    for (const k of keys) if (inScope(k)) n++;
    return n;
  };
  const unsafe = checkSafety({
    actions: plan.actions,
    localCount: count(p.local.files.keys()),
    remoteCount: count(p.remote.files.keys()),
    stateCount: p.priorFiles ? count(Object.keys(p.priorFiles)) : 0,
    maxDelete: ctx.settings.maxDelete ?? 50,
    workspace: ctx.workspace,
    remote: ctx.remoteLabel,
    statePath: ctx.stateFile,
  });
  if (unsafe) throw unsafe;

  const skipped: SkipNote[] = [...p.local.skipped, ...p.remote.skipped];
  for (const a of plan.actions) if (a.kind === "skip") skipped.push({ path: a.path, reason: a.reason });
  const caseConflicts = [...p.local.caseClashes, ...p.remote.caseClashes];

  if (ctx.dryRun) {
    const outcome: ExecuteOutcome = { uploaded: [], downloaded: [], deleted: [], conflicts: [...caseConflicts], files: {}, skipped: [] };
    for (const a of plan.actions) {
      const name = p.local.files.get(a.path)?.path ?? p.remote.files.get(a.path)?.path ?? a.path;
      if (a.kind === "upload") outcome.uploaded.push(name);
      else if (a.kind === "download") outcome.downloaded.push(name);
      else if (a.kind === "deleteLocal" || a.kind === "deleteRemote") outcome.deleted.push(name);
      else if (a.kind === "conflict") outcome.conflicts.push(name);
    }
    for (const a of plan.actions) if (a.kind !== "same" && a.kind !== "skip") ctx.logger.info(`[workspace-sync] (dry run) would ${describeAction(a.kind)} ${a.path}`);
    return { outcome, skipped };
  }

  const outcome = await executePlan(plan.actions, {
    provider: ctx.provider,
    remoteDir: ctx.remoteDir,
    workspace: ctx.workspace,
    wfs: ctx.wfs!,
    token: ctx.token,
    local: p.local.files,
    remote: p.remote.files,
    prior: p.priorFiles,
    keyOf: ctx.keyOf,
    concurrency: ctx.concurrency,
    logger: ctx.logger,
    signal: ctx.signal,
  });
  outcome.conflicts.push(...caseConflicts);
  skipped.push(...outcome.skipped);
  return { outcome, skipped };
}

/**
 * `newer` conflicts on backends whose listings give the upload time (S3): the time the cloud copy
 * was edited is the source mtime stored with the object (this tool and rclone both store it), so
 * each conflicting file is looked up once (the comparer's `stat()`, shared with the comparison) and
 * the winner decided on that instead.
 */
async function useSourceMtimes(ctx: RunContext, p: Prepared, actions: SyncAction[], comparer: ContentComparer): Promise<void> {
  const caps = ctx.provider.capabilities;
  if (caps.listMtime !== "upload" || !caps.metadata || (ctx.settings.conflictResolve ?? "newer") !== "newer") return;
  const conflicts = actions.map((a, i) => [a, i] as const).filter(([a]) => a.kind === "conflict");
  await forEachLimit(
    conflicts,
    ctx.concurrency,
    async ([a, i], _j, signal) => {
      if (a.kind !== "conflict") return;
      const l = p.local.files.get(a.path);
      const r = p.remote.files.get(a.path);
      if (!l || !r) return;
      const st = await comparer.withSourceTime(r, signal);
      if (st?.mtimeNs === undefined) return;
      actions[i] = { ...a, winner: conflictWinner(l, st, "newer") };
    },
    ctx.signal,
  );
}

function describeAction(kind: string): string {
  switch (kind) {
    case "upload":
      return "upload";
    case "download":
      return "download";
    case "deleteLocal":
      return "delete in the workspace";
    case "deleteRemote":
      return "delete in the cloud";
    default:
      return "resolve the conflict on";
  }
}

function newState(ctx: RunContext, files: Record<string, StateEntry>, ingested?: Record<string, RemoteSignature>): SyncState {
  const s: SyncState = {
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

function success(ctx: RunContext, outcome: ExecuteOutcome, inboxFiles: string[], skipped: SkipNote[]): SyncRunSuccess {
  const sorted = (a: string[]): string[] => [...new Set(a)].sort();
  const result: SyncRunSuccess = {
    ok: true,
    mode: ctx.mode,
    uploaded: sorted(outcome.uploaded),
    downloaded: sorted(outcome.downloaded),
    deleted: sorted(outcome.deleted),
    conflicts: sorted(outcome.conflicts),
    inboxFiles,
  };
  if (skipped.length > 0) result.skipped = skipped;
  if (ctx.dryRun) result.dryRun = true;
  ctx.logger.info(
    `[workspace-sync] ${ctx.dryRun ? "Dry run: would transfer" : "Transferred"} ${result.uploaded.length} up, ${result.downloaded.length} down; ` +
      `${result.deleted.length} deleted, ${result.conflicts.length} conflict(s)${inboxFiles.length ? `, ${inboxFiles.length} new in the inbox` : ""}`,
  );
  return result;
}

async function ensureWorkspace(ctx: RunContext): Promise<void> {
  if (!ctx.dryRun) {
    await fsp.mkdir(ctx.workspace, { recursive: true }).catch((err) => {
      throw toWorkspaceSyncError(err);
    });
  }
  ctx.wfs = await WorkspaceFs.open(ctx.workspace);
}

/** When this process last cleaned up provider leftovers, by provider and cloud folder. */
const lastProviderCleanup = new Map<string, number>();

/**
 * After a successful run: removes this install's own leftovers (sync download temps in the
 * workspace, the provider's visible upload temps in the cloud folder) that no run can still be
 * writing. Only names carrying this install's token; failures are only logged.
 */
async function cleanUpLeftovers(ctx: RunContext, p: Prepared | undefined): Promise<void> {
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

async function runMailbox(ctx: RunContext): Promise<SyncRunResult> {
  const { logger } = ctx;
  await ensureWorkspace(ctx);
  if (!ctx.dryRun) await ensureMailboxFolders(ctx.provider, ctx.remoteDir, ctx.workspace, logger, ctx.signal, ctx.wfs);

  let pushError: WorkspaceSyncError | undefined;
  let push: { outcome: ExecuteOutcome; skipped: SkipNote[] } | undefined;
  let p: Prepared | undefined;
  const drainSkipped: SkipNote[] = [];
  logger.info(`[workspace-sync] Mailbox: pushing workspace → ${ctx.remoteLabel}`);
  try {
    p = await prepare(ctx);
    push = await syncPart(ctx, p);
    if (!ctx.dryRun) await saveState(ctx.stateFile, newState(ctx, push.outcome.files));
    logger.info("[workspace-sync] Mailbox push completed");
  } catch (err) {
    pushError = ctx.signal.aborted ? abortError(ctx.signal.reason) : toWorkspaceSyncError(err);
    logger.warn(`[workspace-sync] Mailbox push failed: ${pushError.message}`);
  }

  // The drain runs even when the push failed (it is what brings new files to the agent).
  let drainError: WorkspaceSyncError | undefined;
  let inboxFiles: string[] = [];
  if (!ctx.signal.aborted) {
    logger.info(`[workspace-sync] Mailbox: draining ${ctx.remoteLabel}/${OUTBOX_DIR} → ${path.join(ctx.workspace, INBOX_DIR)}`);
    try {
      inboxFiles = await drainOutbox({
        provider: ctx.provider,
        remoteDir: ctx.remoteDir,
        workspace: ctx.workspace,
        filter: ctx.filter,
        concurrency: ctx.concurrency,
        logger,
        dryRun: ctx.dryRun,
        signal: ctx.signal,
        wfs: ctx.wfs,
        token: ctx.token,
        onSkipped: (note) => drainSkipped.push(note),
      });
      logger.info("[workspace-sync] Mailbox drain completed");
    } catch (err) {
      drainError = ctx.signal.aborted ? abortError(ctx.signal.reason) : toWorkspaceSyncError(err);
      logger.warn(`[workspace-sync] Mailbox drain failed: ${drainError.message}`);
    }
  }
  if (inboxFiles.length > 0 && !ctx.dryRun && ctx.onInboxFiles) {
    try {
      await ctx.onInboxFiles(inboxFiles, formatInboxNotification(inboxFiles));
    } catch (err) {
      logger.warn(`[workspace-sync] Inbox notification error: ${errorMessage(err)}`);
    }
  }
  const error = pushError ?? drainError;
  if (error) return syncFailure(error);
  await cleanUpLeftovers(ctx, p);
  return success(ctx, push!.outcome, inboxFiles, [...push!.skipped, ...drainSkipped]);
}

async function runMirror(ctx: RunContext): Promise<SyncRunResult> {
  const { logger } = ctx;
  await ensureWorkspace(ctx);
  logger.info(`[workspace-sync] Mirror: pushing workspace → ${ctx.remoteLabel}`);
  const p = await prepare(ctx);
  const part = await syncPart(ctx, p);
  logger.info("[workspace-sync] Mirror push completed");
  let ingested: Record<string, RemoteSignature> | undefined;
  const inboxFiles: string[] = [];
  if (ctx.settings.ingest) {
    const ingestDir = normalizeRemotePath(ctx.settings.ingestPath || "inbox");
    logger.info(`[workspace-sync] Mirror: ingesting ${ctx.remoteLabel}/${ingestDir} → ${path.join(ctx.workspace, ingestDir)}`);
    const result = await ingest(ctx, p, ingestDir);
    part.skipped.push(...result.skipped);
    ingested = result.ingested;
    inboxFiles.push(...result.added);
    part.outcome.downloaded.push(...result.added);
    logger.info("[workspace-sync] Mirror ingest completed");
  }
  if (!ctx.dryRun) await saveState(ctx.stateFile, newState(ctx, part.outcome.files, ingested));
  await cleanUpLeftovers(ctx, p);
  return success(ctx, part.outcome, inboxFiles.sort(), part.skipped);
}

/** Mirror ingest: cloud `<ingestDir>/` → workspace `<ingestDir>/`, additive, never overwriting. */
async function ingest(ctx: RunContext, p: Prepared, ingestDir: string): Promise<{ ingested: Record<string, RemoteSignature>; added: string[]; skipped: SkipNote[] }> {
  const prefix = ctx.keyOf(`${ingestDir}/`);
  const remote = new Map<string, RemoteFile>();
  for (const [k, r] of p.remote.files) if (k.startsWith(prefix)) remote.set(k, r);
  const prior = p.state?.ingested;
  let steps = planIngest(remote, p.local.files, prior);
  // Same-size local files may already hold the content: compare before downloading a duplicate.
  const check = steps.filter((s) => s.kind === "download" && p.local.files.get(s.path)?.size === remote.get(s.path)!.size).map((s) => s.path);
  if (check.length > 0) {
    const pairs = check.map((key): ComparePair => ({ key, local: p.local.files.get(key)!, remote: remote.get(key)!, readLimit: COMPARE_BY_DOWNLOAD_LIMIT }));
    steps = planIngest(remote, p.local.files, prior, await comparerFor(ctx).findEqual(pairs));
  }
  const ingested: Record<string, RemoteSignature> = {};
  const added: string[] = [];
  const downloads = steps.filter((s) => s.kind === "download");
  for (const s of steps) {
    if (s.kind === "keep" && prior?.[s.path]) ingested[s.path] = prior[s.path]!;
    if (s.kind === "record") ingested[s.path] = remoteSignature(remote.get(s.path)!);
  }
  const skipped: SkipNote[] = [];
  if (ctx.dryRun) {
    return { ingested, added: downloads.map((s) => remote.get(s.path)!.path), skipped };
  }
  const listSource = ctx.provider.capabilities.listMtime === "source";
  const localNameFor = localNamer(p.local.files, ctx.keyOf);
  await forEachLimit(
    downloads,
    ctx.concurrency,
    async (s, _i, signal) => {
      const r = remote.get(s.path)!;
      const target = p.local.files.get(s.path)?.path ?? localNameFor(r.path);
      try {
        const { finalRel } = await downloadFile(ctx.provider, joinRemotePath(ctx.remoteDir, r.path), ctx.wfs!, ctx.token, target, {
          noClobber: true,
          mtimeMs: listSource ? r.mtimeMs : undefined,
          signal,
        });
        ingested[s.path] = remoteSignature(r);
        added.push(finalRel);
      } catch (err) {
        // Not recorded as ingested, so a later run tries again once the workspace can take it.
        if (ctx.signal.aborted || !isLocalNameProblem(err)) throw err;
        const reason = nameProblemReason(err);
        ctx.logger.warn(`[workspace-sync] Not ingesting ${r.path}: ${reason}`);
        skipped.push({ path: r.path, reason });
      }
    },
    ctx.signal,
  );
  return { ingested, added, skipped };
}

async function runBisync(ctx: RunContext): Promise<SyncRunResult> {
  const { logger } = ctx;
  await ensureWorkspace(ctx);
  logger.info(`[workspace-sync] Running bisync: ${ctx.remoteLabel} ↔ ${ctx.workspace}`);
  const p = await prepare(ctx);
  if (!p.state) logger.info("[workspace-sync] Bisync: no prior state (first run or state lost): merging both sides without deleting");
  const part = await syncPart(ctx, p);
  if (!ctx.dryRun) await saveState(ctx.stateFile, newState(ctx, part.outcome.files));
  await cleanUpLeftovers(ctx, p);
  logger.info("[workspace-sync] Bisync completed");
  return success(ctx, part.outcome, [], part.skipped);
}
