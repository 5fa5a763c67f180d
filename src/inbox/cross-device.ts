/**
 * The cross-device fallback of an inbox move: copy (never replacing, keeping modes and times), then
 * remove the source. Both ends are {@link Place}s: the source is read through its folder held open
 * (never through a symbolic link, never from a FIFO, never from a folder moved away), the copy is
 * made through the target folder held open, and each folder is checked right before each name
 * change and each removal.
 */
import type { Stats } from "node:fs";
import { promises as fsp } from "node:fs";
import { LocalPathError, nameFileNoClobber, syncFolder } from "../util/safe-fs.js";
import { installToken, syncTempName } from "../util/temp-names.js";
import { FolderCopy, unlinkIfSameIn, type LeftBehind } from "./folder-copy.js";
import { renameDirNoClobber, takenError } from "./no-clobber.js";
import { checkFolders, pathOf, relOf, sibling, type Place } from "./places.js";

/** A moved file whose name took another file, or that was written to, during the move: the rest stays. */
export const FILE_CHANGED: LeftBehind = { rel: "", why: "changed during the move", retry: true };

/**
 * A hidden temp name for a copy made before it is put in place. A sync temp name
 * (`.ws-sync-<token>-<nonce>.tmp`, with this process's token): a copy a crash left there is never
 * synced (a sync with another token reports it and leaves it alone), where a name of its own would
 * be uploaded as a user file.
 */
export function moveTempBase(): string {
  return syncTempName(installToken());
}

/**
 * Copies `from` to `to`, then removes `from`. A folder is copied entry by entry under a hidden
 * temporary name first and renamed into place, so a failed copy never leaves half a folder under
 * the final name, never touches an entry that appeared at `to` meanwhile, and leaves the source as
 * it was. Of a folder, only what was copied and is still the same is removed afterwards: the rest
 * (FIFOs and the like, entries swapped or changed or added during the move) stays in the source and
 * is returned. A file is copied whole or not at all; its source is removed only while it is still
 * the file copied (else it stays, and {@link FILE_CHANGED} is returned).
 */
export async function copyThenRemoveIn(from: Place, to: Place, isDir: boolean): Promise<LeftBehind[]> {
  return isDir ? copyFolderThenRemove(from, to) : copyFileThenRemove(from, to);
}

/** The file branch of {@link copyThenRemoveIn}. */
async function copyFileThenRemove(from: Place, to: Place): Promise<LeftBehind[]> {
  // Read never through a symlink and never from a FIFO, only from the inbox where it was checked:
  // the entry was a regular file when it was looked at, and anything may have its name since.
  await checkFolders(from.folder);
  const source = await from.folder.source(from.name).open();
  try {
    // Before the copy: a write during the copy changes the time and is seen below.
    const st = await source.handle.stat();
    // Copied under a temp name, so that `to` names only a complete copy (a crash mid-copy leaves
    // no partial file under it for a sync to take), then placed at `to`, never over a file there
    // (EEXIST). On disk, with its name, before the source goes: across devices a crash could keep
    // the removal and lose the copy.
    const tmp = sibling(to, moveTempBase());
    try {
      await checkFolders(to.folder);
      await to.folder.copyIn(source, tmp.name, { times: { atime: st.atime, mtime: st.mtime }, durable: true });
      await checkFolders(to.folder);
      // Placed, never copied again (a file system answering EXDEV within a folder would otherwise
      // make copy after copy).
      const how = await nameFileNoClobber(pathOf(tmp), pathOf(to));
      if (how === "taken") throw takenError(relOf(to));
      if (how === "linked") await fsp.unlink(pathOf(tmp));
    } catch (err) {
      await to.folder.removeQuietly(tmp.name);
      throw err;
    }
    await syncFolder(to.folder.path("."));
    return (await removeIfSame(from, st)) ? [] : [FILE_CHANGED];
  } finally {
    await source.handle.close();
  }
}

/**
 * Removes file `from` while it is still the file `st` describes (see {@link unlinkIfSameIn}); false
 * when it stays: changed, or its folder moved away since it was placed (then it is not removed
 * there, and the move says it stayed).
 */
export async function removeIfSame(from: Place, st: Stats): Promise<boolean> {
  try {
    return await unlinkIfSameIn(from.folder, from.name, st);
  } catch (err) {
    if (err instanceof LocalPathError) return false;
    throw err;
  }
}

/** The folder branch of {@link copyThenRemoveIn}. */
async function copyFolderThenRemove(from: Place, to: Place): Promise<LeftBehind[]> {
  await checkFolders(from.folder, to.folder);
  const tmp = sibling(to, moveTempBase());
  const copy = new FolderCopy({ tree: from.tree, rel: relOf(from) }, { tree: to.tree, rel: relOf(tmp) });
  try {
    await copy.copyAll();
    await renameDirNoClobber(tmp, to);
    // Every file and folder of the copy was flushed as it was made; its name now, and only then
    // does anything leave the source.
    await syncFolder(to.folder.path("."));
  } catch (err) {
    // Our temp folder, if the copy made it, while it is that folder: removed through its folders
    // held open (a link put in it is removed as a link, a folder of it swapped for one is left:
    // never followed).
    if (copy.madeFolder) await to.tree.removeOwnTree(relOf(tmp), copy.madeFolder);
    throw err;
  }
  await copy.removeCopied();
  return copy.left;
}
