/**
 * The sync planner: from the two listings and the last agreed state, the list of actions a run
 * takes. Pure (no I/O), so every rule is pinned by table tests.
 *
 * Modes:
 * - `bisync`: each side is compared with its own prior listing; creates, updates and deletes
 *   propagate both ways; a change on both sides is a conflict unless the contents are equal.
 * - `mailbox` / `mirror` (push): the cloud becomes a copy of the workspace; a cloud file is deleted
 *   only when this tool pushed it (it is in the state), it vanished locally and it was not changed in
 *   the cloud since. Cloud-only files unknown to the state are left alone (the plugin's first-push
 *   data-loss trap).
 *
 * Paths under `protectedPrefixes` (mailbox `_inbox/`, `_outbox/`; mirror ingest folder) are not
 * looked at on either side.
 */
import type { SyncMode } from "../config/types.js";
import { compareTimes, localTime } from "./compare.js";
import { localChanged, localDelta, remoteChanged, remoteDelta, sameContent } from "./deltas.js";
import { unsettledKeys } from "./file-index.js";
import { asStateFiles, type StateFiles } from "./state-files.js";
import type { LocalFile, RemoteFile, Side, StateEntry, SyncAction } from "./types.js";

/** Options of {@link planSync}. */
export interface PlanOptions {
  mode: SyncMode;
  /** Bisync conflict winner: `newer` by mtime (a tie or unknown mtime goes to the workspace copy). */
  conflictResolve?: "newer" | "local" | "remote";
  /** No deletions this run (first run, lost state, changed filters): a merge instead. */
  noDeletes?: boolean;
  /** Keys the caller compared byte-for-byte (or by hash) and found equal. */
  equalContent?: ReadonlySet<string>;
  /** Key prefixes (ending in `/`) that the plan ignores on both sides. */
  protectedPrefixes?: readonly string[];
  /** Maps a path to its comparison key (lower-case on case-insensitive providers). Default: identity. */
  keyOf?: (path: string) => string;
  /**
   * Keys unchanged on both sides since the state's entry (see `unchangedOnBothSides`): left out
   * of the plan, the caller keeps their entries.
   */
  settled?: (key: string) => boolean;
  /**
   * Keys of names left alone on either side (see `applyBlocked`): in neither listing, they are
   * still there, and a conflict copy never takes one (an object store's `a.txt.conflict` file
   * beside its folder `a.txt.conflict/`).
   */
  reserved?: Iterable<string>;
}

/** What {@link planSync} returns. */
export interface SyncPlan {
  actions: SyncAction[];
}

/**
 * Plans one run. `local` and `remote` are keyed by comparison key (see {@link PlanOptions.keyOf});
 * `state` is the last agreed state's files (`undefined` on the first run). Actions come sorted by key.
 */
export function planSync(
  local: ReadonlyMap<string, LocalFile>,
  remote: ReadonlyMap<string, RemoteFile>,
  priorState: Readonly<Record<string, StateEntry>> | StateFiles | undefined,
  options: PlanOptions,
): SyncPlan {
  const state = priorState === undefined ? undefined : asStateFiles(priorState);
  const keyOf = options.keyOf ?? ((p: string) => p);
  const prefixes = options.protectedPrefixes ?? [];
  const isProtected = (k: string): boolean => prefixes.some((p) => k.startsWith(p));
  const settled = options.settled;
  const open = (keys: Iterable<string>): string[] => (settled ? [...keys].filter((k) => !settled(k)) : [...keys]);
  const byPlace = settled !== undefined && state !== undefined ? unsettledKeys(settled, state, local, remote) : undefined;
  const keys = sortedUnion(byPlace ? [byPlace.all] : [open(local.keys()), open(remote.keys()), state ? open(state.keys()) : []]);

  // Names already used anywhere, so a conflict copy never lands on an existing file or folder
  // (bisync only). The executor looks again when it makes the copy (what was not listed: excluded
  // files, names made since).
  const taken = new TakenNames(options.mode === "bisync" ? keys : []);
  if (options.mode === "bisync" && settled) for (const k of local.keys()) taken.add(k); // settled files hold their names too
  if (options.mode === "bisync") for (const k of options.reserved ?? []) taken.add(k);
  const actions: SyncAction[] = [];
  const noDeletes = options.noDeletes === true || state === undefined;

  for (const key of keys) {
    if (isProtected(key)) continue;
    const l = local.get(key);
    const r = remote.get(key);
    const s = state?.get(key);
    const action =
      options.mode === "bisync"
        ? planBisyncPath(key, l, r, s, noDeletes, options, taken, keyOf)
        : planPushPath(key, l, r, s, noDeletes, options);
    if (action) actions.push(action);
  }
  return { actions };
}

/**
 * Every key of the three sources once, in `Array.prototype.sort` order. Each source is sorted on
 * its own (the listings and the state come in key order already, where sorting is a linear pass)
 * and the three are merged, instead of a set of all keys sorted as a whole.
 */
export function sortedUnion(sources: string[][]): string[] {
  const [a = [], b = [], c = []] = sources.map((s) => s.sort());
  const out: string[] = [];
  let i = 0;
  let j = 0;
  let k = 0;
  let last: string | undefined;
  while (i < a.length || j < b.length || k < c.length) {
    let next = i < a.length ? a[i]! : undefined;
    if (j < b.length && (next === undefined || b[j]! < next)) next = b[j]!;
    if (k < c.length && (next === undefined || c[k]! < next)) next = c[k]!;
    if (i < a.length && a[i] === next) i++;
    if (j < b.length && b[j] === next) j++;
    if (k < c.length && c[k] === next) k++;
    if (next !== last) out.push(next!);
    last = next;
  }
  return out;
}

function planPushPath(
  key: string,
  l: LocalFile | undefined,
  r: RemoteFile | undefined,
  s: StateEntry | undefined,
  noDeletes: boolean,
  options: PlanOptions,
): SyncAction | undefined {
  if (l && r) {
    if (s && !localChanged(l, s.local) && !remoteChanged(r, s.remote)) return { kind: "same", path: key };
    if (sameContent(l, r, options.equalContent, key)) return { kind: "same", path: key };
    if (!s) return { kind: "upload", path: key, reason: "differs from the cloud copy" };
    return localChanged(l, s.local)
      ? { kind: "upload", path: key, reason: "changed locally" }
      : { kind: "upload", path: key, reason: "changed in the cloud; the workspace is the source of truth" };
  }
  if (l) return { kind: "upload", path: key, reason: s ? "missing in the cloud" : "new" };
  if (r) {
    if (!s) return { kind: "skip", path: key, reason: "only in the cloud and not pushed by this tool: left alone" };
    if (remoteChanged(r, s.remote)) {
      return { kind: "skip", path: key, reason: "deleted locally but changed in the cloud since it was pushed: left alone" };
    }
    if (noDeletes) return { kind: "skip", path: key, reason: "deleted locally; deletions are paused for this run (safe merge)", keepState: true };
    return { kind: "deleteRemote", path: key, reason: "deleted locally" };
  }
  return undefined; // gone on both sides: the state entry is dropped
}

function planBisyncPath(
  key: string,
  l: LocalFile | undefined,
  r: RemoteFile | undefined,
  s: StateEntry | undefined,
  noDeletes: boolean,
  options: PlanOptions,
  taken: NameSet,
  keyOf: (p: string) => string,
): SyncAction | undefined {
  const ld = localDelta(l, s);
  const rd = remoteDelta(r, s);
  const moved = (d: string): boolean => d === "new" || d === "changed";

  if (l && r) {
    if (ld === "unchanged" && rd === "unchanged") return { kind: "same", path: key };
    if (ld === "unchanged") return { kind: "download", path: key, reason: "changed in the cloud" };
    if (rd === "unchanged") return { kind: "upload", path: key, reason: "changed locally" };
    // Changed or new on both sides.
    if (sameContent(l, r, options.equalContent, key)) return { kind: "same", path: key };
    const winner = conflictWinner(l, r, options.conflictResolve ?? "newer");
    // The workspace spelling: the loser copy is written next to the workspace file (on a
    // case-insensitive provider the cloud keeps its own folder spelling for it).
    const loserPath = conflictName(l.path, taken, keyOf);
    return {
      kind: "conflict",
      path: key,
      winner,
      loserPath,
      reason: s ? "changed on both sides" : "different content on both sides with no prior state",
    };
  }
  if (l) {
    // Cloud copy absent.
    if (rd === "absent") return { kind: "upload", path: key, reason: "new locally" };
    // rd === "deleted"
    if (moved(ld)) return { kind: "upload", path: key, reason: "deleted in the cloud but changed locally: kept" };
    if (noDeletes) return { kind: "upload", path: key, reason: "deleted in the cloud; deletions are paused for this run (safe merge): copied back" };
    return { kind: "deleteLocal", path: key, reason: "deleted in the cloud" };
  }
  if (r) {
    if (ld === "absent") return { kind: "download", path: key, reason: "new in the cloud" };
    if (moved(rd)) return { kind: "download", path: key, reason: "deleted locally but changed in the cloud: kept" };
    if (noDeletes) return { kind: "download", path: key, reason: "deleted locally; deletions are paused for this run (safe merge): copied back" };
    return { kind: "deleteRemote", path: key, reason: "deleted locally" };
  }
  return undefined;
}

/**
 * The winning side of a conflict. `newer` compares the times at the coarser precision of the two
 * sides: a difference below it (a millisecond of rounding, whole seconds on Dropbox) is a tie, and a
 * tie or an unknown cloud time goes to the workspace copy.
 */
export function conflictWinner(l: LocalFile, r: RemoteFile, rule: "newer" | "local" | "remote"): Side {
  if (rule === "local" || rule === "remote") return rule;
  const rt = r.mtimeNs !== undefined ? { ns: r.mtimeNs, precisionNs: r.mtimePrecisionNs ?? 1 } : r.mtimeMs !== undefined ? { ns: BigInt(Math.trunc(r.mtimeMs)) * 1_000_000n, precisionNs: 1_000_000 } : undefined;
  if (!rt) return "local";
  return compareTimes(rt, localTime(l)) > 0 ? "remote" : "local";
}

/** A conflict copy's suffix: `.conflict`, `.conflict1`, … */
const CONFLICT_SUFFIX = /\.conflict\d*$/;

/** The longest file name, in UTF-8 bytes, of the file systems a workspace is on (ext4, APFS, NTFS in UTF-16 units at most). */
export const MAX_NAME_BYTES = 255;

/** What {@link conflictName} reads and reserves names in (a `Set` of keys will do). */
export interface NameSet {
  has(key: string): boolean;
  add(key: string): unknown;
}

/**
 * The keys a plan holds, and every folder of one (made on the first look, which only a conflict
 * needs): a conflict copy takes neither a file's name nor a folder's.
 */
class TakenNames implements NameSet {
  readonly #names: Set<string>;
  #withFolders = false;
  constructor(keys: Iterable<string>) {
    this.#names = new Set(keys);
  }
  has(key: string): boolean {
    if (!this.#withFolders) {
      this.#withFolders = true;
      for (const k of [...this.#names]) for (let at = k.indexOf("/"); at > 0; at = k.indexOf("/", at + 1)) this.#names.add(k.slice(0, at));
    }
    return this.#names.has(key);
  }
  add(key: string): void {
    this.#names.add(key);
  }
}

/** `base` + `suffix`, its last part shortened (by whole characters, ending in `~`) to fit {@link MAX_NAME_BYTES}. */
function fitName(base: string, suffix: string): string {
  const slash = base.lastIndexOf("/");
  const name = base.slice(slash + 1);
  const room = MAX_NAME_BYTES - Buffer.byteLength(suffix);
  if (Buffer.byteLength(name) <= room) return base + suffix;
  let cut = "";
  for (const ch of name) {
    if (Buffer.byteLength(cut + ch) + 1 > room) break;
    cut += ch;
  }
  return `${base.slice(0, slash + 1)}${cut}~${suffix}`;
}

/**
 * `<name>.conflict`, or `.conflict1`, `.conflict2`… when taken; reserves the name in `taken`. A
 * conflict copy in conflict itself gets a sibling number (`a.conflict` → `a.conflict1`), never
 * `a.conflict.conflict`. A name that would pass {@link MAX_NAME_BYTES} keeps the suffix and loses
 * the end of its stem (`nnn…n~.conflict`).
 */
export function conflictName(name: string, taken: NameSet, keyOf: (p: string) => string = (p) => p): string {
  const base = name.replace(CONFLICT_SUFFIX, "");
  for (let i = 0; ; i++) {
    const candidate = fitName(base, `.conflict${i === 0 ? "" : i}`);
    const k = keyOf(candidate);
    if (!taken.has(k)) {
      taken.add(k);
      return candidate;
    }
  }
}

/**
 * Keys where both sides hold a file of the same size whose sameness is unknown and matters
 * (no state, or changed on both sides, or a local-only mtime change): the runner compares these
 * (by hash or small download) and passes the equal ones back as {@link PlanOptions.equalContent}.
 */
export function contentCheckCandidates(
  local: ReadonlyMap<string, LocalFile>,
  remote: ReadonlyMap<string, RemoteFile>,
  priorState: Readonly<Record<string, StateEntry>> | StateFiles | undefined,
  settled?: (key: string) => boolean,
): string[] {
  const state = priorState === undefined ? undefined : asStateFiles(priorState);
  const out: string[] = [];
  const byPlace = settled !== undefined && state !== undefined ? unsettledKeys(settled, state, local, remote) : undefined;
  const keys = byPlace ? byPlace.local : local.keys();
  for (const key of keys) {
    if (!byPlace && settled?.(key)) continue;
    const l = local.get(key)!;
    const r = remote.get(key);
    if (!r || r.size !== l.size) continue;
    const s = state?.get(key);
    if (!s || localChanged(l, s.local) || remoteChanged(r, s.remote)) out.push(key);
  }
  return out.sort();
}
