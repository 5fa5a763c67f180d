/**
 * The executor: carries out a plan against the workspace and the provider, with bounded
 * concurrency, and returns the new agreed state entries. Transfers (uploads, downloads, conflict
 * copies) run first; deletions run only when every transfer succeeded.
 */
import { promises as fsp } from "node:fs";
import { WorkspaceSyncError, throwIfAborted, toWorkspaceSyncError } from "../errors.js";
import type { Logger } from "../logger.js";
import { joinRemotePath } from "../providers/paths.js";
import type { StorageProvider, ThreadWrites } from "../providers/types.js";
import { LocalPathError, isLocalNameProblem, nameProblemReason, type WorkspaceFs } from "../util/safe-fs.js";
import { entryMatches, localSignature, remoteSignature } from "./deltas.js";
import { forEachLimit, halfOf, slotsOf } from "../util/concurrency.js";
import { downloadFile, uploadFile } from "./transfer.js";
import { msFromNs, nsFromMs } from "../util/mtime.js";
import type { LocalFile, RemoteFile, SkipNote, StateEntry, SyncAction } from "./types.js";
import { conflictName, type NameSet, type SyncPlan } from "./plan.js";
import { CompactStateFiles, type StateFiles } from "./state-files.js";
import { rebuiltFromState } from "./file-index.js";
import { folderSpellings } from "./listing.js";
import { versionNow, type VersionNow } from "./remote-version.js";
import { underRoot } from "../util/flat-join.js";

/** What the executor needs besides the plan. */
export interface ExecuteContext {
  provider: StorageProvider;
  /** Cloud folder (provider path). */
  remoteDir: string;
  /** Absolute workspace folder. */
  workspace: string;
  /** Every local write, rename and delete goes through this (never through a symlink). */
  wfs: WorkspaceFs;
  /** This install's temp-name token. */
  token: string;
  local: ReadonlyMap<string, LocalFile>;
  /** Workspace names the run leaves alone (`Listing.blocked`): their folders keep their spelling for downloads. */
  leftAlone?: readonly string[];
  remote: ReadonlyMap<string, RemoteFile>;
  /** Prior state entries (kept for `skip` actions with `keepState`). */
  prior: StateFiles | undefined;
  keyOf: (p: string) => string;
  concurrency: number;
  logger: Logger;
  signal?: AbortSignal;
}

/** What a plan execution did, and the new agreed entries. */
export interface ExecuteOutcome {
  uploaded: string[];
  downloaded: string[];
  deleted: string[];
  conflicts: string[];
  /** The run's own new entries (held compactly: one per file on a first run). */
  files: CompactStateFiles;
  /** Files left alone because the workspace could not take them (symlink in the way, name it cannot hold). */
  skipped: SkipNote[];
}

/**
 * How many transfers a run keeps in flight: `concurrency`, or where that is 2 or more and the
 * provider makes the small writes of its plan's second half on a thread of its own, one for the
 * first half and the thread's slots for the second if that is more (see
 * `ProviderCapabilities.threadWrites`; only those small writes go past `concurrency`). With
 * `concurrency` 1 the plan has one half only, and every copy stays on the main thread.
 */
export function transfersInFlight(concurrency: number, threadWrites: ThreadWrites | undefined): number {
  const slots = threadWrites?.slots;
  if (concurrency < 2 || slots === undefined || !Number.isSafeInteger(slots) || slots < 1 || slots > 64) return concurrency;
  return Math.max(concurrency, 1 + slots);
}

/** Absolute local path of a workspace-relative path. */
export function localAbsPath(workspace: string, rel: string): string {
  return underRoot(workspace, rel);
}

/**
 * Maps a cloud path to the workspace path a new file should get: each folder keeps the spelling
 * the workspace already uses for it (by comparison key), so a cloud `docs/b.txt` lands in an
 * existing workspace `Docs/` on a case-insensitive provider instead of a second folder `docs/`
 * (likewise for a Unicode-form difference). The folders of `leftAlone` give spellings too: a
 * folder whose files are all left alone this run is still the workspace's folder.
 */
export function localNamer(local: ReadonlyMap<string, LocalFile>, keyOf: (p: string) => string, leftAlone: readonly string[] = []): (remoteRel: string) => string {
  // Built on first use: a run that downloads nothing never walks every path for it.
  let dirs: Map<string, string> | undefined;
  return (remoteRel) => {
    dirs ??= folderSpellings(local, keyOf, leftAlone);
    for (let i = remoteRel.lastIndexOf("/"); i > 0; i = remoteRel.lastIndexOf("/", i - 1)) {
      const dir = dirs.get(keyOf(remoteRel.slice(0, i)));
      if (dir !== undefined) return `${dir}${remoteRel.slice(i)}`;
    }
    return remoteRel;
  };
}

/**
 * Executes the plan's actions, taking them: `plan.actions` is left empty, and each transfer's
 * action is let go of as it starts. A first run plans an action per file (~60 bytes with its
 * place in the lists: 12 MiB at 200 000 files), and they were held to the end of the run, beside
 * the new state growing to the same count. Throws the first failure (after in-flight transfers
 * settle); deletions are then not attempted.
 */
export async function executePlan(plan: SyncPlan, ctx: ExecuteContext): Promise<ExecuteOutcome> {
  const { provider, logger, signal } = ctx;
  const remoteFull = (rel: string): string => joinRemotePath(ctx.remoteDir, rel);
  const localAbs = (rel: string): string => localAbsPath(ctx.workspace, rel);
  const listSource = provider.capabilities.listMtime === "source";
  // Before anything is changed: the keys the run will record are distinct (see assertDistinctKeys).
  // Room for an entry per action, and a second for each conflict (its copy's).
  const room = plan.actions.length + assertDistinctKeys(plan.actions, ctx.keyOf);
  const out: ExecuteOutcome = { uploaded: [], downloaded: [], deleted: [], conflicts: [], files: new CompactStateFiles(room), skipped: [] };
  /** Adds a new state entry; one the state cannot hold (a size or time that is not a number) is left out, and said. */
  const record = (key: string, entry: StateEntry): void => {
    // (One entry per key: the plan's keys are distinct, and so are the conflict names it reserved.)
    if (!out.files.append(key, entry)) logger.warn(`[workspace-sync] ${key}: no state entry recorded (the provider gave a size or time that is not a number); it is compared again on the next run`);
  };
  const { transfers, deleteLocal, deleteRemote } = takeActions(plan, ctx, record);

  const localNameFor = localNamer(ctx.local, ctx.keyOf, ctx.leftAlone);
  /** Names a conflict copy's next name may not take: the planned copies', the listed files', and those chosen since. */
  const plannedCopies = conflictCopyKeys(transfers, ctx.keyOf);
  const chosen = new Set<string>();
  const copyNames: NameSet = {
    has: (k) => plannedCopies.has(k) || chosen.has(k) || ctx.local.has(k) || ctx.remote.has(k),
    add: (k) => chosen.add(k),
  };

  /** Downloads `r` to `rel`; `exclusive` for a name new to the workspace (never replaces what appeared there since the listing). */
  const download = async (rel: string, r: RemoteFile, signal: AbortSignal | undefined, exclusive: boolean): Promise<LocalFile> => {
    let mtimeNs = r.mtimeNs;
    if (listSource && mtimeNs === undefined && rebuiltFromState(r)) {
      // Rebuilt from the state, which keeps milliseconds: the listing's own time may be finer.
      const st = await provider.stat(remoteFull(r.path), { signal });
      if (st?.mtimeNs !== undefined && st.size === r.size && Math.trunc(st.mtime?.getTime() ?? Number.NaN) === r.mtimeMs) mtimeNs = st.mtimeNs;
    }
    const { local } = await downloadFile(provider, remoteFull(r.path), ctx.wfs, ctx.token, rel, {
      exclusive,
      mtimeMs: listSource ? r.mtimeMs : undefined,
      mtimeNs: listSource ? mtimeNs : undefined,
      signal,
    });
    return { ...local, path: rel };
  };

  // (The same list, each place emptied as its transfer starts: the action is then held by that call only.)
  const started: (SyncAction | undefined)[] = transfers;
  const thread = provider.capabilities.threadWrites;
  const inFlight = transfersInFlight(ctx.concurrency, thread);
  // Past `concurrency` only the thread's small writes: every other transfer (a download, a
  // conflict's copies, a large upload streamed through buffers) waits for one of these.
  const others = inFlight > ctx.concurrency ? slotsOf(ctx.concurrency) : undefined;
  let failed = false;
  await forEachLimit(
    transfers,
    inFlight,
    async (a, i, workerSignal, worker) => {
      started[i] = undefined;
      throwIfAborted(signal);
      // (The workspace's record, looked up once: it may be rebuilt from the state on each lookup.)
      const l = ctx.local.get(a.path);
      const forThread = a.kind === "upload" && l !== undefined && l.size <= (thread?.largestBytes ?? -1);
      const slot = others !== undefined && !forThread ? others : undefined;
      if (slot !== undefined) {
        await slot.take();
        // (Nothing starts once the run has failed or was aborted while this one waited.)
        if (failed || signal?.aborted) {
          slot.give();
          throwIfAborted(signal);
          return;
        }
      }
      try {
        await transfer(a, l, workerSignal, halfOf(worker));
      } catch (err) {
        // One name the workspace cannot take never blocks the others: reported, no state entry (so
        // a later run never reads its absence as a deletion), the cloud copy untouched. (Each
        // transfer records its key's entry last, after every step that can fail: there is none. A
        // conflict's copy may have its entry already, and keeps it: the copy is on both sides.)
        if (!signal?.aborted && isLocalNameProblem(err)) {
          const name = ctx.remote.get(a.path)?.path ?? ctx.local.get(a.path)?.path ?? a.path;
          const reason = nameProblemReason(err);
          logger.warn(`[workspace-sync] Skipping ${name}: ${reason}`);
          out.skipped.push({ path: name, reason });
          return;
        }
        // A file that vanished since the listing is simply left for the next run to see.
        if (await vanished(a, err)) {
          logger.warn(`[workspace-sync] ${a.path} disappeared during the sync; it will be looked at again next run`);
          return;
        }
        failed = true;
        throw err;
      } finally {
        slot?.give();
      }
    },
    signal,
    // Two places of the plan at once, each a series of its own (`WriteOptions.series`): a
    // provider that copies on two threads (the local provider) then creates files in two folders
    // at a time (creating names in one folder is serialized by its lock). Any other takes the
    // transfers in any order.
    { twoHalves: true },
  );
  throwIfAborted(signal);

  async function vanished(a: SyncAction, err: unknown): Promise<boolean> {
    if (signal?.aborted || toWorkspaceSyncError(err).code !== "NOT_FOUND") return false;
    const l = ctx.local.get(a.path);
    if (a.kind === "upload" && l) return !(await fsp.lstat(localAbs(l.path)).then(() => true, () => false));
    return a.kind === "download";
  }

  /** One transfer (`l`: the workspace's record of its key, if any); its streams and requests listen on the worker's own `signal`; `series`: which half of the plan its worker works on (see `twoHalves`). */
  async function transfer(a: SyncAction, l: LocalFile | undefined, signal: AbortSignal | undefined, series: number): Promise<void> {
    const r = ctx.remote.get(a.path);
    if (a.kind === "upload") {
      if (!l) return;
      const rel = r?.path ?? l.path;
      logger.debug?.(`[workspace-sync] upload ${l.path} (${a.reason})`);
      const stored = await uploadFile(provider, ctx.wfs.source(l.path), remoteFull(rel), l, signal, series);
      record(a.path, { local: localSignature(l), remote: remoteSignature(stored) });
      out.uploaded.push(l.path);
    } else if (a.kind === "download") {
      if (!r) return;
      const rel = l?.path ?? localNameFor(r.path);
      logger.debug?.(`[workspace-sync] download ${r.path} (${a.reason})`);
      const local = await download(rel, r, signal, !l);
      record(a.path, { local: localSignature(local), remote: remoteSignature(r) });
      out.downloaded.push(rel);
    } else if (a.kind === "conflict") {
      if (!l || !r) return;
      const loser = await makeConflictCopy(a.loserPath, a.winner, l, r, signal);
      logger.warn(`[workspace-sync] Conflict on ${l.path} (${a.reason}): keeping the ${a.winner === "local" ? "workspace" : "cloud"} copy, the other as ${loser}`);
      if (a.winner === "local") {
        const stored = await uploadFile(provider, ctx.wfs.source(l.path), remoteFull(r.path), l, signal);
        record(a.path, { local: localSignature(l), remote: remoteSignature(stored) });
        out.uploaded.push(l.path, loser);
        out.downloaded.push(loser);
      } else {
        const local = await download(l.path, r, signal, false);
        record(a.path, { local: localSignature(local), remote: remoteSignature(r) });
        out.uploaded.push(loser);
        out.downloaded.push(l.path);
      }
      out.conflicts.push(l.path);
    }
  }

  /**
   * Makes the losing side's copy of a conflict on both sides, under `planned` or, where that name
   * is taken on either side when it is made (a file the listings passed over: excluded, made
   * since; a folder), under the next free `.conflictN`; records it and returns its name. Both
   * copies are made create-only: the workspace's first, then the cloud's, and a workspace copy
   * whose cloud name turns out taken is removed again (this run made it, and it is unchanged).
   * Nothing is replaced: the winner is written over the loser only after this returns.
   */
  async function makeConflictCopy(planned: string, winner: "local" | "remote", l: LocalFile, r: RemoteFile, signal: AbortSignal | undefined): Promise<string> {
    let name = planned;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) name = conflictName(name, copyNames, ctx.keyOf);
      if (attempt === MAX_CONFLICT_NAMES) throw new LocalPathError(l.path, `no free name for its conflict copy (${planned} and ${MAX_CONFLICT_NAMES - 1} more are taken): skipped, both versions kept`);
      if (await takenNow(name, signal)) continue;
      let loserLocal: LocalFile;
      try {
        if (winner === "local") {
          // The cloud copy → the workspace, as a new file.
          loserLocal = await download(name, r, signal, true);
        } else {
          // The workspace copy, its time set and its stats read on the copy's own descriptor (never through a link put at its name).
          const st = await ctx.wfs.copyFileExcl(l.path, name, l.mtimeNs ?? nsFromMs(l.mtimeMs));
          loserLocal = { path: name, size: Number(st.size), mtimeMs: msFromNs(st.mtimeNs), mtimeNs: st.mtimeNs };
        }
      } catch (err) {
        if (nameTaken(err)) continue;
        throw copyProblem(name, err);
      }
      let loserRemote: RemoteFile;
      try {
        loserRemote = await uploadFile(provider, ctx.wfs.source(name), remoteFull(name), loserLocal, signal, undefined, true);
      } catch (err) {
        if (!nameTaken(err)) throw copyProblem(name, err);
        // Taken in the cloud (a folder there, or made since the look): the workspace copy made above goes, and the next name is tried.
        const removed = await ctx.wfs.unlinkFile(name, loserLocal).catch(() => "kept" as const);
        if (removed !== "deleted") throw copyProblem(name, err);
        continue;
      }
      record(ctx.keyOf(name), { local: localSignature(loserLocal), remote: remoteSignature(loserRemote) });
      return name;
    }
  }

  /**
   * Whether a file or folder holds `name` in the workspace, or a file in the cloud, now (a folder
   * there shows when the create-only write meets it). A look only: the writes decide.
   */
  async function takenNow(name: string, signal: AbortSignal | undefined): Promise<boolean> {
    if (await fsp.lstat(localAbs(name)).then(() => true, () => false)) return true;
    return (await provider.stat(remoteFull(name), { signal })) !== undefined;
  }

  // Deletions last, and only after every transfer succeeded.
  for (const a of deleteLocal) {
    throwIfAborted(signal);
    const l = ctx.local.get(a.path);
    if (!l) continue;
    let outcome: "deleted" | "gone" | "changed";
    try {
      // Checked right before the call: never through a folder that became a symlink.
      outcome = await ctx.wfs.unlinkFile(l.path, l);
    } catch (err) {
      if (!isLocalNameProblem(err)) throw toWorkspaceSyncError(err);
      const reason = nameProblemReason(err);
      logger.warn(`[workspace-sync] Not deleting ${l.path}: ${reason}`);
      out.skipped.push({ path: l.path, reason });
      continue;
    }
    if (outcome === "gone") continue;
    if (outcome === "changed") {
      logger.warn(`[workspace-sync] Not deleting ${l.path}: it changed during the sync; it will be uploaded next run`);
      continue;
    }
    out.deleted.push(l.path);
  }
  if (deleteRemote.length > 0) {
    throwIfAborted(signal);
    // Each looked at again first, as the workspace's are: a cloud file changed since the listing
    // (edited there while this run ran) is kept, and the next run sees the edit.
    const rels = await stillAsListed(deleteRemote, ctx.remote, provider, remoteFull, ctx.concurrency, signal, (rel, now) =>
      now === "changed"
        ? logger.warn(`[workspace-sync] Not deleting ${rel} in the cloud: it changed during the sync; it will be looked at again next run`)
        : logger.debug?.(`[workspace-sync] ${rel} is already gone from the cloud`),
    );
    const failures = await provider.deleteMany(rels.map(remoteFull), { signal });
    const failed = new Set(failures.map((f) => f.path));
    for (const rel of rels) if (!failed.has(remoteFull(rel))) out.deleted.push(rel);
    if (failures.length > 0) {
      const first = failures[0]!;
      throw new WorkspaceSyncError(first.error instanceof WorkspaceSyncError ? first.error.code : "PROVIDER_ERROR", `Could not delete ${failures.length} cloud file(s), first ${first.path}: ${first.error.message}`, {
        path: first.path,
        cause: first.error,
      });
    }
  }
  return out;
}

/**
 * The cloud paths of `actions` (deletions) whose file is still as listed, in their order (one
 * `stat` each, `concurrency` at a time; a path without a listing record is taken as it is);
 * `onLeft` is told of each one left out (changed since, or gone already).
 */
async function stillAsListed(
  actions: readonly SyncAction[],
  remote: ReadonlyMap<string, RemoteFile>,
  provider: StorageProvider,
  full: (rel: string) => string,
  concurrency: number,
  signal: AbortSignal | undefined,
  onLeft: (rel: string, now: Exclude<VersionNow, "same">) => void,
): Promise<string[]> {
  const rels: (string | undefined)[] = actions.map((a) => remote.get(a.path)?.path ?? a.path);
  await forEachLimit(
    actions,
    concurrency,
    async (a, i) => {
      const r = remote.get(a.path);
      if (r === undefined) return;
      const now = await versionNow(provider, full(r.path), r, signal);
      if (now === "same") return;
      rels[i] = undefined;
      onLeft(r.path, now);
    },
    signal,
  );
  return rels.filter((rel) => rel !== undefined);
}

/**
 * Takes the plan's actions (leaving it empty): records the entries of those that transfer
 * nothing (`same`, a `skip` that keeps its prior entry) and sorts the rest into the lists the
 * executor works through.
 */
function takeActions(plan: SyncPlan, ctx: ExecuteContext, record: (key: string, entry: StateEntry) => void): { transfers: SyncAction[]; deleteLocal: SyncAction[]; deleteRemote: SyncAction[] } {
  const actions = plan.actions;
  plan.actions = [];
  const transfers: SyncAction[] = [];
  const deleteLocal: SyncAction[] = [];
  const deleteRemote: SyncAction[] = [];
  for (const a of actions) {
    switch (a.kind) {
      case "same": {
        const l = ctx.local.get(a.path);
        const r = ctx.remote.get(a.path);
        if (l && r) {
          // The prior entry where it already says this (kept as it is: no new signatures).
          const s = ctx.prior?.get(a.path);
          record(a.path, s && entryMatches(s, l, r) ? s : { local: localSignature(l), remote: remoteSignature(r) });
        }
        break;
      }
      case "skip":
        if (a.keepState) {
          const s = ctx.prior?.get(a.path);
          if (s) record(a.path, s);
        }
        break;
      case "deleteLocal":
        deleteLocal.push(a);
        break;
      case "deleteRemote":
        deleteRemote.push(a);
        break;
      default:
        transfers.push(a);
    }
  }
  return { transfers, deleteLocal, deleteRemote };
}

/**
 * Throws unless the entries a run will record have distinct keys: the plan's keys increase (as
 * `planSync` gives them) and no conflict name is one of them or another's. The run's state holds
 * its entries without a map of places (`CompactStateFiles.append`), and a first run looks none
 * up. Returns how many conflict names there are.
 */
function assertDistinctKeys(actions: readonly SyncAction[], keyOf: (p: string) => string): number {
  const twice = (key: string): WorkspaceSyncError => new WorkspaceSyncError("INTERNAL_ERROR", `A sync planned two steps for ${JSON.stringify(key)}; nothing was changed: report this`);
  const unordered = (key: string, after: string): WorkspaceSyncError =>
    new WorkspaceSyncError("INTERNAL_ERROR", `A sync planned ${JSON.stringify(key)} after ${JSON.stringify(after)}, out of order; nothing was changed: report this`);
  const losers = new Set<string>();
  for (const a of actions) {
    if (a.kind !== "conflict") continue;
    const k = keyOf(a.loserPath);
    if (losers.has(k)) throw twice(k);
    losers.add(k);
  }
  let previous: string | undefined;
  for (const a of actions) {
    if (previous !== undefined && a.path < previous) throw unordered(a.path, previous);
    if (a.path === previous || losers.has(a.path)) throw twice(a.path);
    previous = a.path;
  }
  return losers.size;
}

/** Names a conflict copy tries before its key is skipped (the planned one and the next ones free in the plan). */
const MAX_CONFLICT_NAMES = 20;

/** Errors that mean the name is held by a file or folder there (a create-only write met one). */
const TAKEN_CODES = new Set(["EEXIST", "EISDIR", "ENOTEMPTY", "ALREADY_EXISTS"]);

/** Whether `err` (or a cause) says the name it wrote is taken. */
function nameTaken(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e.code === "string" && TAKEN_CODES.has(e.code)) return true;
  }
  return false;
}

/** A name problem of a conflict copy, said of the copy (the key's skip note names both). */
function copyProblem(name: string, err: unknown): unknown {
  return isLocalNameProblem(err) ? new LocalPathError(name, `its conflict copy ${name}: ${nameProblemReason(err)}`, err) : err;
}

/**
 * The keys of the conflict copies `transfers` plan. (A function of its own: a loop over the
 * actions in the executor's body left the last one held by its suspended frame.)
 */
function conflictCopyKeys(transfers: readonly SyncAction[], keyOf: (p: string) => string): Set<string> {
  const keys = new Set<string>();
  for (const a of transfers) if (a.kind === "conflict") keys.add(keyOf(a.loserPath));
  return keys;
}
