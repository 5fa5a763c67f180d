/**
 * `moveFromInbox`: moves entries out of `_inbox` into a folder of the workspace. Never
 * overwrites: a name already taken in the target gets ` (1)`, ` (2)`, … before its extension.
 * Symbolic links are skipped. Moves across devices fall back to copy + remove; of a folder, what
 * could not be copied safely or changed meanwhile stays in the inbox (see `folder-copy.ts`).
 *
 * The workspace is hostile: any folder may be swapped for a symbolic link at any moment. The whole
 * move runs in one tree rooted at the workspace: the inbox and the target are held open (see
 * `inbox-folder.ts`, `target.ts`), every call on an entry goes through them, and each is checked
 * right before each name change and removal (see `move-entry.ts`). A folder moved away or swapped
 * meanwhile refuses the entry (in `errors`), and nothing outside the workspace is ever read,
 * written, moved or removed.
 */
import { promises as fsp } from "node:fs";
import path from "node:path";
import { errorMessage, toWorkspaceSyncError } from "../errors.js";
import { LocalPathError, type HeldFolder } from "../util/safe-fs.js";
import { INBOX_DIR } from "../sync/index.js";
import { copyThenRemoveIn, moveTempBase } from "./cross-device.js";
import type { LeftBehind } from "./folder-copy.js";
import { openWorkspaceInbox, readNames, withInboxFolder } from "./inbox-folder.js";
import { moveEntryIn } from "./move-entry.js";
import { exists } from "./no-clobber.js";
import { isSafeBasename, type InboxLocation } from "./paths.js";
import { atPath, pathOf, type Place } from "./places.js";
import { holdMoveTarget } from "./target.js";

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
 * problems with single entries (unsafe name, missing, symbolic link, a folder swapped or moved
 * during the move) are reported in `errors`.
 */
export async function moveFromInbox(options: MoveFromInboxOptions): Promise<MoveFromInboxResult> {
  const ws = await openWorkspaceInbox(options);
  const target = await holdMoveTarget(ws.tree, options.target, ws.wsReal, ws.inboxReal);
  try {
    const inboxReal = ws.inboxReal;
    if (!inboxReal) {
      const errors = (options.files ?? []).map((name) => `${name}: not in ${INBOX_DIR} (the inbox does not exist yet)`);
      return { moved: [], errors, remaining: [] };
    }
    return await withInboxFolder(ws, inboxReal, async (inbox) => {
      const moved: string[] = [];
      const errors: string[] = [];
      for (const name of options.files ?? (await readNames(inbox))) {
        const line = await moveListed({ tree: ws.tree, folder: inbox, name }, target.folder, target.rel);
        if (line.moved !== undefined) moved.push(line.moved);
        if (line.error !== undefined) errors.push(line.error);
      }
      // Names read through the inbox as held; none when it moved away meanwhile (nothing else is read).
      const remaining = await readNames(inbox).catch(() => [] as string[]);
      return { moved, errors, remaining };
    });
  } finally {
    await target.folder.close();
  }
}

/**
 * Moves inbox entry `from` (a name as the caller gave it) into `targetFolder` (`targetRel` in the
 * workspace): its `moved` line, and its `errors` line, if any.
 */
async function moveListed(from: Place, targetFolder: HeldFolder, targetRel: string): Promise<{ moved?: string; error?: string }> {
  const { name } = from;
  if (!isSafeBasename(name)) return { error: `${String(name)}: not a plain file name from ${INBOX_DIR} (no "/", "\\" or ".."), skipped` };
  let st;
  try {
    st = await fsp.lstat(pathOf(from));
  } catch (err) {
    return { error: (err as NodeJS.ErrnoException).code === "ENOENT" ? `${name}: not in ${INBOX_DIR}` : `${name}: ${entryErrorText(err)}` };
  }
  if (st.isSymbolicLink()) return { error: `${name}: symbolic link, skipped` };
  if (!st.isFile() && !st.isDirectory()) return { error: `${name}: not a regular file or folder, skipped` };
  try {
    const { finalName, left } = await moveOne(from, targetFolder, st.isDirectory());
    const moved = `${name} → ${targetRel === "." ? finalName : `${targetRel}/${finalName}`}`;
    if (left.length === 0) return { moved };
    return { moved, error: st.isDirectory() ? describeLeftBehind(name, left) : describeChangedFile(name) };
  } catch (err) {
    if (err instanceof LocalPathError) return { error: `${name}: not moved: ${err.reason}` };
    return { error: `${name}: ${entryErrorText(err)}` };
  }
}

/** A held folder's descriptor path in a system error's text (`/proc/self/fd/17/`). */
const DESCRIPTOR_PATH = /\/proc\/self\/fd\/\d+\/?/g;

/**
 * The text of an entry's error for the agent: the move reaches names through its folders held
 * open, so a system error names them by descriptor path; the name in the folder is what it means.
 */
function entryErrorText(err: unknown): string {
  return (toWorkspaceSyncError(err).message || errorMessage(err)).replace(DESCRIPTOR_PATH, "");
}

/** Moves `from` into `targetFolder` under the first free name; returns that name and what stayed behind. */
async function moveOne(from: Place, targetFolder: HeldFolder, isDir: boolean): Promise<{ finalName: string; left: LeftBehind[] }> {
  for (let n = 0; n <= MAX_SUFFIX; n++) {
    const to: Place = { tree: from.tree, folder: targetFolder, name: suffixedName(from.name, n) };
    if (n === 0 || !(await exists(pathOf(to)))) {
      try {
        const left = await moveEntryIn(from, to, isDir);
        return { finalName: to.name, left };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EEXIST") continue; // taken: try the next suffix
        throw err;
      }
    }
  }
  throw Object.assign(new Error(`no free name for ${from.name} in the target folder`), { code: "EEXIST" });
}

/**
 * Moves a file or folder to `dest` as {@link moveEntryIn} does, each in its parent folder held open
 * (the caller vouches for the folders on the way to those; {@link moveFromInbox} holds the
 * workspace's instead).
 */
export async function moveEntryNoClobber(src: string, dest: string, isDir: boolean): Promise<LeftBehind[]> {
  return atPath(src, INBOX_DIR, (from) => atPath(dest, "the target folder", (to) => moveEntryIn(from, to, isDir)));
}

/**
 * The cross-device fallback of a move ({@link copyThenRemoveIn}) by path, each end in its parent
 * folder held open as {@link moveEntryNoClobber} does (exported for its tests, not from the package).
 */
export async function copyThenRemove(src: string, dest: string, isDir: boolean): Promise<LeftBehind[]> {
  return atPath(src, INBOX_DIR, (from) => atPath(dest, "the target folder", (to) => copyThenRemoveIn(from, to, isDir)));
}

/** A hidden temp name beside `dest` for a copy made before it is put in place (see {@link moveTempBase}). */
export function moveTempName(dest: string): string {
  return path.join(path.dirname(dest), moveTempBase());
}
