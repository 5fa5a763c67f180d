/**
 * Naming steps of an inbox move that never replace what has the name they give: a taken name is an
 * `EEXIST` error (the caller tries the next numbered name). Both ends are {@link Place}s, reached
 * through their folders held open and checked right before each call that changes a name.
 */
import { promises as fsp } from "node:fs";
import { checkFolders, pathOf, relOf, type Place } from "./places.js";

/** The error of a name that is taken (`EEXIST`: the caller tries the next numbered name). */
export function takenError(dest: string): Error {
  return Object.assign(new Error(`${dest} exists`), { code: "EEXIST" });
}

/** Whether anything has the name `at` (never following a link there). */
export async function exists(at: string): Promise<boolean> {
  try {
    await fsp.lstat(at);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

/**
 * Renames folder `from` to `to`, never replacing anything at `to`. A rename replaces an empty folder
 * at its target, and one made there between a check and the rename would be lost: an empty folder
 * is made at `to` first instead (that fails, EEXIST, when the name is taken) and `from` renamed over
 * it. Whatever is put into it meanwhile makes the rename fail and stays (EEXIST, as a taken name).
 * Both folders are checked before the placeholder is made, before each rename, and before the
 * placeholder is removed.
 */
export async function renameDirNoClobber(from: Place, to: Place): Promise<void> {
  await checkFolders(from.folder, to.folder);
  const at = pathOf(to);
  await fsp.mkdir(at);
  const placeholder = await fsp.lstat(at);
  try {
    await checkFolders(from.folder, to.folder);
    await fsp.rename(pathOf(from), at);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const now = await fsp.lstat(at).catch(() => undefined);
    const stillOurs = now !== undefined && now.isDirectory() && now.ino === placeholder.ino && now.dev === placeholder.dev;
    // Our placeholder, removed only while it is still empty (rmdir removes nothing else), and only
    // where it was made (a folder moved away keeps it).
    if (stillOurs) await checkFolders(to.folder).then(() => fsp.rmdir(at)).catch(() => undefined);
    if ((code === "ENOTEMPTY" || code === "EEXIST") && stillOurs && !(await exists(at))) {
      // Our empty placeholder refused as a target (some network and FUSE file systems never
      // rename onto a folder): the name was free a moment ago, so check, then rename, as there is
      // nothing better there.
      await checkFolders(from.folder, to.folder);
      await fsp.rename(pathOf(from), at);
      return;
    }
    if (code === "ENOTEMPTY" || code === "EEXIST") throw Object.assign(new Error(`${relOf(to)} was taken during the move`), { code: "EEXIST", cause: err });
    throw err;
  }
}
