/**
 * One inbox entry moved to a {@link Place}, never replacing what has that name there (`EEXIST`
 * instead): a file by a hard link then the removal of its source name, a folder by a rename over an
 * empty placeholder, and across devices by copy then removal ({@link copyThenRemoveIn}). Every call
 * goes through the two folders held open, each checked right before each name change and removal.
 */
import { promises as fsp } from "node:fs";
import { nameFileNoClobber } from "../util/safe-fs.js";
import { copyThenRemoveIn, FILE_CHANGED, removeIfSame } from "./cross-device.js";
import type { LeftBehind } from "./folder-copy.js";
import { renameDirNoClobber, takenError } from "./no-clobber.js";
import { checkFolders, pathOf, relOf, type Place } from "./places.js";

/**
 * Moves file or folder `from` to `to` without ever replacing what is there (rejects with code
 * `EEXIST` instead). Across devices it copies (keeping modes and times) and then removes the source;
 * of a folder, entries that could not be copied safely or changed meanwhile stay in the source and
 * are returned; a file whose name took another file, or that was written to, during the move stays
 * too (one entry with `rel` `""`). Otherwise `[]`. A folder of either end moved away, or swapped for
 * a symbolic link, is refused (a {@link import("../util/safe-fs.js").LocalPathError}).
 */
export async function moveEntryIn(from: Place, to: Place, isDir: boolean): Promise<LeftBehind[]> {
  return isDir ? moveDirNoClobber(from, to) : moveFileNoClobber(from, to);
}

/**
 * Moves one regular file without ever replacing `to`; throws EEXIST when `to` is taken. The
 * source name is removed only while it is still the file moved; otherwise it stays and
 * {@link FILE_CHANGED} is returned.
 */
async function moveFileNoClobber(from: Place, to: Place): Promise<LeftBehind[]> {
  await checkFolders(from.folder, to.folder);
  let how: "linked" | "renamed" | "taken";
  try {
    how = await nameFileNoClobber(pathOf(from), pathOf(to));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EXDEV") return copyThenRemoveIn(from, to, false);
    throw err;
  }
  if (how === "taken") throw takenError(relOf(to));
  if (how === "renamed") return [];
  // The name at `to` is the file moved: the source name goes only if it still is that file.
  return (await removeIfSame(from, await fsp.lstat(pathOf(to)))) ? [] : [FILE_CHANGED];
}

/** Moves a folder without ever replacing `to`; returns what stayed behind (across devices only). */
async function moveDirNoClobber(from: Place, to: Place): Promise<LeftBehind[]> {
  try {
    await renameDirNoClobber(from, to);
    return [];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EXDEV") return copyThenRemoveIn(from, to, true);
    throw err;
  }
}
