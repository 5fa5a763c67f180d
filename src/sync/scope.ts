/**
 * What a run leaves out of scope on both sides, and the removal of its own stale temp files.
 *
 * A name one side cannot sync (a workspace symlink, special file or clash; a cloud name the
 * workspace cannot hold, or a cloud symlink or special file) is left alone on both sides: nothing
 * is written over it, nothing of that name is deleted, and its state entry is set aside so its
 * absence on one side is never read as a deletion. Everything under a symlink (or special file)
 * of either side is out of scope too: with `copySymlinks` off a cloud `link/precious.txt` is never
 * written through the workspace's `link`, and a workspace `d/a.txt` is never deleted because the
 * cloud's `d` became a link.
 */
import type { WorkspaceFs } from "../util/safe-fs.js";
import type { Listing, OwnTemp } from "./listing.js";
import type { LocalFile, RemoteFile, SkipNote } from "./types.js";

/** Idle time after which one of our temp files counts as left by an interrupted run (its mtime moves while it is written). */
export const STALE_TEMP_MS = 60 * 60 * 1000;

/**
 * Removes blocked names (and cloud files under blocked workspace names) from both listings, with
 * skip notes, adds what it removed to each side's `blocked` (names a conflict copy must not take),
 * and returns the test for state keys that stay in scope.
 */
export function applyBlocked(local: Listing<LocalFile>, remote: Listing<RemoteFile>, keyOf: (p: string) => string): (key: string) => boolean {
  const localReason = reasonsByPath(local.skipped);
  const localBlocked = new Map<string, string>();
  for (const p of local.blocked ?? []) localBlocked.set(keyOf(p), p);
  const opaque = new Map<string, string>();
  for (const p of local.opaque ?? []) opaque.set(keyOf(p), p);
  const remoteBlocked = new Map<string, string>();
  for (const p of remote.blocked ?? []) remoteBlocked.set(keyOf(p), p);
  const remoteOpaque = new Map<string, string>();
  for (const p of remote.opaque ?? []) remoteOpaque.set(keyOf(p), p);

  /** The workspace symlink or special file above `key`, if any. */
  const blockedAbove = (key: string): string | undefined => nameAbove(key, opaque);
  /** The cloud symlink or special file above `key`, if any. */
  const cloudBlockedAbove = (key: string): string | undefined => nameAbove(key, remoteOpaque);

  // By key (a listing may hold files as marks, rebuilt only when read: see FileIndex).
  for (const k of localBlocked.size > 0 || opaque.size > 0 || remoteOpaque.size > 0 ? [...remote.files.keys()] : []) {
    const same = localBlocked.get(k);
    const above = same === undefined ? blockedAbove(k) : undefined;
    const cloudAbove = same === undefined && above === undefined ? cloudBlockedAbove(k) : undefined;
    if (same === undefined && above === undefined && cloudAbove === undefined) continue;
    const r = remote.files.get(k)!;
    remote.files.delete(k);
    remote.blocked?.push(r.path);
    if (same !== undefined) {
      remote.skipped.push({ path: r.path, reason: "the workspace has a name there that is not synced (symlink, special file or name clash): left alone" });
    } else if (above !== undefined) {
      const why = localReason.get(above) ?? "not synced";
      remote.skipped.push({ path: r.path, reason: `under ${above} in the workspace (${why}); sync never writes through it: left alone, the cloud copy is kept` });
    } else {
      // (Under a twin of the cloud's link, in another Unicode form or case.)
      remote.skipped.push({ path: r.path, reason: `under ${cloudAbove!} in the cloud, which is not synced: left alone on both sides` });
    }
  }
  // A workspace file named like a name left alone there in another Unicode form or case (a
  // symlink `cafe\u0301.txt` beside the file `café.txt`), or lying under one (a symlink `cafe\u0301`
  // beside the folder `café/`): the cloud's one copy for both was left alone above, and the state
  // entry is set aside; the file is left alone too, or the plan would read it as new and write
  // it over the cloud copy, edits there included.
  // (A folder's files are said once as a clash, logged, and each in the result.)
  const twinFolders = new Set<string>();
  for (const k of localBlocked.size > 0 || opaque.size > 0 ? [...local.files.keys()] : []) {
    const same = localBlocked.get(k);
    const twin = same ?? blockedAbove(k);
    if (twin === undefined) continue;
    const l = local.files.get(k)!;
    local.files.delete(k);
    local.blocked?.push(l.path);
    const clash = (p: string): string => `the workspace also has ${twin}, the same name as ${p} in another form, which is not synced: left alone on both sides`;
    if (same !== undefined) {
      local.skipped.push({ path: l.path, reason: clash(l.path), kind: "name-clash" });
      continue;
    }
    const folder = l.path.split("/").slice(0, twin.split("/").length).join("/");
    if (!twinFolders.has(folder)) {
      twinFolders.add(folder);
      local.skipped.push({ path: folder, reason: clash(`${folder}/`), kind: "name-clash" });
    }
    local.skipped.push({ path: l.path, reason: `under ${folder}, left alone on both sides (the workspace also has ${twin})` });
  }
  const remoteReason = reasonsByPath(remoteBlocked.size > 0 ? remote.skipped : []);
  for (const k of remoteBlocked.size > 0 ? [...local.files.keys()] : []) {
    const clash = remoteBlocked.get(k);
    const cloudAbove = clash === undefined ? cloudBlockedAbove(k) : undefined;
    if (clash === undefined && cloudAbove === undefined) continue;
    const l = local.files.get(k)!;
    local.files.delete(k);
    local.blocked?.push(l.path);
    const name = clash ?? cloudAbove!;
    const why = remoteReason.get(name) ?? "a name the workspace cannot take";
    local.skipped.push({ path: l.path, reason: `${clash !== undefined ? "the cloud has" : "under"} ${name} in the cloud, not synced (${why})` });
  }
  return (key) => !localBlocked.has(key) && !remoteBlocked.has(key) && blockedAbove(key) === undefined && cloudBlockedAbove(key) === undefined;
}

/** Each skipped path's reason (the last given). */
function reasonsByPath(skipped: readonly SkipNote[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of skipped) out.set(s.path, s.reason);
  return out;
}

/** The name of `names` (by key) that `key` lies under, if any. */
function nameAbove(key: string, names: ReadonlyMap<string, string>): string | undefined {
  if (names.size === 0) return undefined;
  for (let i = key.indexOf("/"); i > 0; i = key.indexOf("/", i + 1)) {
    const hit = names.get(key.slice(0, i));
    if (hit !== undefined) return hit;
  }
  return undefined;
}

/** Removes our temp files idle since before `cutoffMs`, through the guarded file system. Returns how many. */
export async function removeStaleTemps(wfs: WorkspaceFs, temps: readonly OwnTemp[], cutoffMs: number): Promise<number> {
  let removed = 0;
  for (const t of temps) {
    if (t.mtimeMs > cutoffMs) continue;
    try {
      if ((await wfs.unlinkFile(t.path)) === "deleted") removed++;
    } catch {
      /* a link or folder appeared in its place, or it is gone: not ours to force */
    }
  }
  return removed;
}
