/**
 * `moveFromInbox`: moves entries out of `_inbox` into a folder of the workspace. Never
 * overwrites: a name already taken in the target gets ` (1)`, ` (2)`, … before its extension.
 * Symbolic links are skipped. Moves across devices fall back to copy + remove.
 */
import { promises as fsp } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { errorMessage, toWorkspaceSyncError } from "../errors.js";
import { copyToNewFile, sourceAt } from "../util/safe-fs.js";
import { INBOX_DIR } from "../sync/index.js";
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
  /** `"<name>: <why>"` for each entry not moved. */
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

/** Moves one regular file without ever replacing `dest`; throws EEXIST when `dest` is taken. */
async function moveFileNoClobber(src: string, dest: string): Promise<void> {
  try {
    // link() fails with EEXIST atomically, unlike rename() which would replace the file.
    await fsp.link(src, dest);
    await fsp.unlink(src);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw err;
    if (code === "EXDEV") return copyThenRemove(src, dest, false);
    // Filesystems without hard links (EPERM, ENOTSUP, EMLINK…): check, then rename.
  }
  if (await exists(dest)) throw Object.assign(new Error(`${dest} exists`), { code: "EEXIST" });
  try {
    await fsp.rename(src, dest);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EXDEV") return copyThenRemove(src, dest, false);
    throw err;
  }
}

async function moveDirNoClobber(src: string, dest: string): Promise<void> {
  if (await exists(dest)) throw Object.assign(new Error(`${dest} exists`), { code: "EEXIST" });
  try {
    await fsp.rename(src, dest);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EXDEV") return copyThenRemove(src, dest, true);
    throw err;
  }
}

/**
 * The cross-device fallback of a move (exported for its tests, not from the package).
 * Copy (never replacing, keeping times), then remove the source. A folder is copied under a hidden
 * temporary name first and renamed into place, so a failed copy never leaves half a folder under
 * the final name and never touches an entry that appeared at `dest` meanwhile.
 */
export async function copyThenRemove(src: string, dest: string, isDir: boolean): Promise<void> {
  if (isDir) {
    const tmp = path.join(path.dirname(dest), `.ws-move-${randomBytes(6).toString("hex")}`);
    try {
      await fsp.cp(src, tmp, { recursive: true, errorOnExist: true, force: false, preserveTimestamps: true, verbatimSymlinks: true });
      if (await exists(dest)) throw Object.assign(new Error(`${dest} exists`), { code: "EEXIST" });
      await fsp.rename(tmp, dest);
    } catch (err) {
      await fsp.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      throw err;
    }
    await fsp.rm(src, { recursive: true, force: true });
    return;
  }
  // Read never through a symlink and never from a FIFO: the entry was a regular file when it was
  // looked at, and a copy by path would follow whatever took its name, or its folder's, since.
  const folder = await fsp.realpath(path.dirname(src));
  const from = await sourceAt(src, path.basename(src), folder, path.join(folder, path.basename(src))).open();
  try {
    // Never over a file at `dest` (EEXIST); a partial copy of ours is removed.
    await copyToNewFile(from, dest);
    const st = await from.handle.stat();
    await fsp.utimes(dest, st.atime, st.mtime).catch(async (err: unknown) => {
      await fsp.rm(dest, { force: true }).catch(() => undefined);
      throw err;
    });
  } finally {
    await from.handle.close();
  }
  await fsp.rm(src, { force: true });
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
      const finalName = await moveOne(src, target.abs, name, st.isDirectory());
      moved.push(`${name} → ${target.rel === "." ? finalName : `${target.rel}/${finalName}`}`);
    } catch (err) {
      errors.push(`${name}: ${toWorkspaceSyncError(err).message || errorMessage(err)}`);
    }
  }
  const remaining = (await fsp.readdir(inbox).catch(() => [] as string[])).sort();
  return { moved, errors, remaining };
}

/**
 * Moves a file or folder to `dest` without ever replacing what is there (rejects with code
 * `EEXIST` instead). Across devices it copies (keeping times) and then removes the source.
 */
export async function moveEntryNoClobber(src: string, dest: string, isDir: boolean): Promise<void> {
  if (isDir) await moveDirNoClobber(src, dest);
  else await moveFileNoClobber(src, dest);
}

async function moveOne(src: string, targetDir: string, name: string, isDir: boolean): Promise<string> {
  for (let n = 0; n <= MAX_SUFFIX; n++) {
    const candidate = suffixedName(name, n);
    const dest = path.join(targetDir, candidate);
    if (n === 0 || !(await exists(dest))) {
      try {
        await moveEntryNoClobber(src, dest, isDir);
        return candidate;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EEXIST") continue; // taken: try the next suffix
        throw err;
      }
    }
  }
  throw Object.assign(new Error(`no free name for ${name} in the target folder`), { code: "EEXIST" });
}
