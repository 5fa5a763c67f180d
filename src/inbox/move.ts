/**
 * `moveFromInbox`: moves entries out of `_inbox` into a folder of the workspace. Never
 * overwrites: a name already taken in the target gets ` (1)`, ` (2)`, … before its extension.
 * Symbolic links are skipped. Moves across devices fall back to copy + remove; of a folder, what
 * could not be copied safely or changed meanwhile stays in the inbox (see `folder-copy.ts`).
 */
import { promises as fsp } from "node:fs";
import path from "node:path";
import { errorMessage, toWorkspaceSyncError } from "../errors.js";
import { copyToNewFile, nameFileNoClobber, sourceAt, syncFolder } from "../util/safe-fs.js";
import { installToken, syncTempName } from "../util/temp-names.js";
import { INBOX_DIR } from "../sync/index.js";
import { FolderCopy, unlinkIfSame, type LeftBehind } from "./folder-copy.js";
import { isSafeBasename, realInbox, realWorkspace, resolveMoveTarget, type InboxLocation } from "./paths.js";

/** Options of {@link moveFromInbox}. */
export interface MoveFromInboxOptions extends InboxLocation {
  /** Folder relative to the workspace (created when missing), e.g. `"docs/reports"`; `"."` is the workspace root. */
  target: string;
  /** Inbox entry names (plain basenames). Default: every entry except symbolic links. */
  files?: string[];
}

/** Result of {@link moveFromInbox}. */
export interface MoveFromInboxResult {
  /** `"<name> → <path relative to the workspace>"` for each entry moved. */
  moved: string[];
  /**
   * `"<name>: <why>"` for each entry not moved, and for each folder moved only in part (across
   * devices, entries that could not be copied safely or changed meanwhile stay in the inbox).
   */
  errors: string[];
  /** Names still in the inbox afterwards. */
  remaining: string[];
}

/** Most ` (N)` suffixes tried for one name. */
const MAX_SUFFIX = 10_000;

/** `name`, or `stem (n).ext` for n ≥ 1. */
export function suffixedName(name: string, n: number): string {
  if (n === 0) return name;
  const ext = path.extname(name);
  const stem = ext ? name.slice(0, -ext.length) : name;
  return `${stem} (${n})${ext}`;
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

/** A moved file whose name took another file, or that was written to, during the move: the rest stays. */
const FILE_CHANGED: LeftBehind = { rel: "", why: "changed during the move", retry: true };

/**
 * Moves one regular file without ever replacing `dest`; throws EEXIST when `dest` is taken. The
 * source name is removed only while it is still the file moved (see {@link unlinkIfSame}); otherwise
 * it stays and {@link FILE_CHANGED} is returned.
 */
async function moveFileNoClobber(src: string, dest: string): Promise<LeftBehind[]> {
  let how: "linked" | "renamed" | "taken";
  try {
    how = await nameFileNoClobber(src, dest);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EXDEV") return copyThenRemove(src, dest, false);
    throw err;
  }
  if (how === "taken") throw takenError(dest);
  if (how === "renamed") return [];
  // The name at `dest` is the file moved: the source name goes only if it still is that file.
  return (await unlinkIfSame(src, await fsp.lstat(dest))) ? [] : [FILE_CHANGED];
}

/** The error of a name that is taken (EEXIST: the caller tries the next numbered name). */
function takenError(dest: string): Error {
  return Object.assign(new Error(`${dest} exists`), { code: "EEXIST" });
}

/** Moves a folder without ever replacing `dest`; returns what stayed behind (across devices only). */
async function moveDirNoClobber(src: string, dest: string): Promise<LeftBehind[]> {
  try {
    await renameDirNoClobber(src, dest);
    return [];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EXDEV") return copyThenRemove(src, dest, true);
    throw err;
  }
}

/**
 * Renames folder `from` to `to`, never replacing anything at `to`. A rename replaces an empty folder
 * at its target, and one made there between a check and the rename would be lost: an empty folder
 * is made at `to` first instead (that fails, EEXIST, when the name is taken) and `from` renamed over
 * it. Whatever is put into it meanwhile makes the rename fail and stays (EEXIST, as a taken name).
 */
async function renameDirNoClobber(from: string, to: string): Promise<void> {
  await fsp.mkdir(to);
  const placeholder = await fsp.lstat(to);
  try {
    await fsp.rename(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const now = await fsp.lstat(to).catch(() => undefined);
    const stillOurs = now !== undefined && now.isDirectory() && now.ino === placeholder.ino && now.dev === placeholder.dev;
    // Our placeholder, removed only while it is still empty (rmdir removes nothing else).
    if (stillOurs) await fsp.rmdir(to).catch(() => undefined);
    if ((code === "ENOTEMPTY" || code === "EEXIST") && stillOurs && !(await exists(to))) {
      // Our empty placeholder refused as a target (some network and FUSE file systems never
      // rename onto a folder): the name was free a moment ago, so check, then rename, as there is
      // nothing better there.
      await fsp.rename(from, to);
      return;
    }
    if (code === "ENOTEMPTY" || code === "EEXIST") throw Object.assign(new Error(`${to} was taken during the move`), { code: "EEXIST", cause: err });
    throw err;
  }
}

/**
 * The cross-device fallback of a move (exported for its tests, not from the package).
 * Copy (never replacing, keeping modes and times), then remove the source. A folder is copied entry
 * by entry under a hidden temporary name first and renamed into place, so a failed copy never leaves
 * half a folder under the final name, never touches an entry that appeared at `dest` meanwhile, and
 * leaves the source as it was. Of a folder, only what was copied and is still the same is removed
 * afterwards: the rest (FIFOs and the like, entries swapped or changed or added during the move) stays
 * in the source and is returned. A file is copied whole or not at all; its source is removed only
 * while it is still the file copied (else it stays, and a changed entry is returned).
 */
export async function copyThenRemove(src: string, dest: string, isDir: boolean): Promise<LeftBehind[]> {
  if (isDir) return copyFolderThenRemove(src, dest);
  // Read never through a symlink and never from a FIFO: the entry was a regular file when it was
  // looked at, and a copy by path would follow whatever took its name, or its folder's, since.
  const folder = await fsp.realpath(path.dirname(src));
  const from = await sourceAt(src, path.basename(src), folder, path.join(folder, path.basename(src))).open();
  try {
    // Before the copy: a write during the copy changes the time and is seen below.
    const st = await from.handle.stat();
    // Copied under a temp name, so that `dest` names only a complete copy (a crash mid-copy leaves
    // no partial file under it for a sync to take), then placed at `dest`, never over a file there
    // (EEXIST). On disk, with its name, before the source goes: across devices a crash could keep
    // the removal and lose the copy.
    const tmp = moveTempName(dest);
    try {
      await copyToNewFile(from, tmp, { times: { atime: st.atime, mtime: st.mtime }, durable: true });
      // Placed, never copied again (a file system answering EXDEV within a folder would otherwise
      // make copy after copy).
      const how = await nameFileNoClobber(tmp, dest);
      if (how === "taken") throw takenError(dest);
      if (how === "linked") await fsp.unlink(tmp);
    } catch (err) {
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
      throw err;
    }
    await syncFolder(path.dirname(dest));
    // Removed only while it is still the file as it was before the copy (not one written to during
    // or after it, nor another put at its name).
    return (await unlinkIfSame(src, st)) ? [] : [FILE_CHANGED];
  } finally {
    await from.handle.close();
  }
}

/**
 * A hidden temp name beside `dest` for a copy made before it is put in place. A sync temp name
 * (`.ws-sync-<token>-<nonce>.tmp`, with this process's token): a copy a crash left there is never
 * synced (a sync with another token reports it and leaves it alone), where a name of its own would
 * be uploaded as a user file.
 */
export function moveTempName(dest: string): string {
  return path.join(path.dirname(dest), syncTempName(installToken()));
}

/** The folder branch of {@link copyThenRemove}. */
async function copyFolderThenRemove(src: string, dest: string): Promise<LeftBehind[]> {
  const tmp = moveTempName(dest);
  let copy: FolderCopy;
  try {
    copy = await FolderCopy.open(src, tmp);
    await copy.copyAll();
    await renameDirNoClobber(tmp, dest);
    // Every file and folder of the copy was flushed as it was made; its name now, and only then
    // does anything leave the source.
    await syncFolder(path.dirname(dest));
  } catch (err) {
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  await copy.removeCopied();
  return copy.left;
}

/** The `errors` line of file `name`, moved as it was when the move began, whose name holds a changed file now. */
export function describeChangedFile(name: string): string {
  return `${name}: moved as it was when the move began, but it changed during the move: the changed file is still in ${INBOX_DIR}/${name}. Move "${name}" again to bring it over (it gets a numbered name, such as "${suffixedName(name, 1)}"), or delete it if not needed.`;
}

/** Entries listed in full in {@link describeLeftBehind}; more are counted. */
const MAX_LISTED = 10;

/**
 * The `errors` line of folder `name`, moved but with entries `left` still in the inbox: which, why,
 * and what to do about them.
 */
export function describeLeftBehind(name: string, left: readonly LeftBehind[]): string {
  const n = left.length;
  const sorted = [...left].sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  const listed = sorted.slice(0, MAX_LISTED).map((l) => `${l.rel || "the folder itself"} (${l.why})`);
  if (n > MAX_LISTED) listed.push(`and ${n - MAX_LISTED} more`);
  let line = `${name}: moved, but ${n === 1 ? "1 entry was not: it is" : `${n} entries were not: they are`} still in ${INBOX_DIR}/${name}: ${listed.join("; ")}.`;
  const retry = left.filter((l) => l.retry).length;
  const rest = n - retry;
  if (retry > 0) {
    const what = rest === 0 ? `${n === 1 ? "it" : "them"} over` : `over the ${retry} that can move`;
    line += ` Move "${name}" again to bring ${what} (into a second folder, such as "${suffixedName(name, 1)}").`;
  }
  if (rest > 0) {
    const which = retry === 0 ? (n === 1 ? "It" : "They") : `The other ${rest}`;
    line += ` ${which} would not move on a second try: delete ${rest === 1 ? "it" : "them"} if not needed.`;
  }
  return line;
}

/**
 * Moves inbox entries into `target` (inside the workspace). Throws INVALID_PATH for a bad target
 * (absolute, `..`, through a symbolic link to outside, inside the inbox) before touching anything;
 * problems with single entries (unsafe name, missing, symbolic link) are reported in `errors`.
 */
export async function moveFromInbox(options: MoveFromInboxOptions): Promise<MoveFromInboxResult> {
  const wsReal = await realWorkspace(options.workspaceDir);
  const inbox = await realInbox(options, wsReal);
  const target = await resolveMoveTarget(options.target, wsReal, inbox);
  const moved: string[] = [];
  const errors: string[] = [];
  if (!inbox) {
    for (const name of options.files ?? []) errors.push(`${name}: not in ${INBOX_DIR} (the inbox does not exist yet)`);
    return { moved, errors, remaining: [] };
  }
  const names = options.files ?? (await fsp.readdir(inbox)).sort();
  for (const name of names) {
    if (!isSafeBasename(name)) {
      errors.push(`${String(name)}: not a plain file name from ${INBOX_DIR} (no "/", "\\" or ".."), skipped`);
      continue;
    }
    const src = path.join(inbox, name);
    let st;
    try {
      st = await fsp.lstat(src);
    } catch (err) {
      errors.push((err as NodeJS.ErrnoException).code === "ENOENT" ? `${name}: not in ${INBOX_DIR}` : `${name}: ${toWorkspaceSyncError(err).message}`);
      continue;
    }
    if (st.isSymbolicLink()) {
      errors.push(`${name}: symbolic link, skipped`);
      continue;
    }
    if (!st.isFile() && !st.isDirectory()) {
      errors.push(`${name}: not a regular file or folder, skipped`);
      continue;
    }
    try {
      const { finalName, left } = await moveOne(src, target.abs, name, st.isDirectory());
      moved.push(`${name} → ${target.rel === "." ? finalName : `${target.rel}/${finalName}`}`);
      if (left.length > 0) errors.push(st.isDirectory() ? describeLeftBehind(name, left) : describeChangedFile(name));
    } catch (err) {
      errors.push(`${name}: ${toWorkspaceSyncError(err).message || errorMessage(err)}`);
    }
  }
  const remaining = (await fsp.readdir(inbox).catch(() => [] as string[])).sort();
  return { moved, errors, remaining };
}

/**
 * Moves a file or folder to `dest` without ever replacing what is there (rejects with code
 * `EEXIST` instead). Across devices it copies (keeping modes and times) and then removes the source;
 * of a folder, entries that could not be copied safely or changed meanwhile stay in the source and
 * are returned; a file whose name took another file, or that was written to, during the move stays
 * too (one entry with `rel` `""`). Otherwise `[]`.
 */
export async function moveEntryNoClobber(src: string, dest: string, isDir: boolean): Promise<LeftBehind[]> {
  return isDir ? moveDirNoClobber(src, dest) : moveFileNoClobber(src, dest);
}

/** Moves `src` into `targetDir` under the first free name; returns that name and what stayed behind. */
async function moveOne(src: string, targetDir: string, name: string, isDir: boolean): Promise<{ finalName: string; left: LeftBehind[] }> {
  for (let n = 0; n <= MAX_SUFFIX; n++) {
    const candidate = suffixedName(name, n);
    const dest = path.join(targetDir, candidate);
    if (n === 0 || !(await exists(dest))) {
      try {
        const left = await moveEntryNoClobber(src, dest, isDir);
        return { finalName: candidate, left };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EEXIST") continue; // taken: try the next suffix
        throw err;
      }
    }
  }
  throw Object.assign(new Error(`no free name for ${name} in the target folder`), { code: "EEXIST" });
}
