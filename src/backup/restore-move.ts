/**
 * The last step of a restore: moving what was extracted into the staging folder up into the
 * target, all or nothing; and removing a staging folder whatever the modes restored in it.
 */
import { promises as fsp } from "node:fs";
import path from "node:path";
import { toWorkspaceSyncError } from "../errors.js";

/**
 * Renames `from` to `to`, calling `moved` as soon as the rename is done. A folder without the
 * owner's write permission (a restored `0555`) can not move to another parent (its `..` entry
 * changes): it is made owner-writable for the move, and gets its mode and times back right after,
 * wherever it ended up; a failure there is thrown after `moved` (so a rollback moves it back), and
 * never in place of the rename's own.
 */
async function moveOne(from: string, to: string, moved: () => void): Promise<void> {
  const st = await fsp.lstat(from);
  if (!st.isDirectory() || (st.mode & 0o200) !== 0) {
    await fsp.rename(from, to);
    moved();
    return;
  }
  await fsp.chmod(from, (st.mode & 0o7777) | 0o200);
  let at = from;
  let failure: unknown;
  try {
    await fsp.rename(from, to);
    at = to;
    moved();
  } catch (err) {
    failure = err;
  }
  try {
    await fsp.chmod(at, st.mode & 0o7777);
    await fsp.utimes(at, st.atime, st.mtime);
  } catch (err) {
    failure ??= err;
  }
  if (failure !== undefined) throw failure;
}

/**
 * Moves every entry of the staging folder `partial` into `target` (which holds nothing else). When
 * one move fails, the entries already moved go back into `partial`, so the target never holds part
 * of a restore; then the failure is thrown (typed).
 */
export async function moveIntoPlace(partial: string, target: string): Promise<void> {
  const moved: string[] = [];
  try {
    for (const name of (await fsp.readdir(partial)).sort()) {
      await moveOne(path.join(partial, name), path.join(target, name), () => moved.push(name));
    }
  } catch (err) {
    for (const name of moved.reverse()) await moveOne(path.join(target, name), path.join(partial, name), () => undefined).catch(() => undefined);
    throw toWorkspaceSyncError(err);
  }
}

/**
 * Removes a staging folder and everything in it, also folders restored without write permission
 * (which `rm -r` can not empty for a user other than root): each folder is made owner-writable first.
 */
export async function removeStaging(dir: string): Promise<void> {
  const unlock = async (d: string): Promise<void> => {
    await fsp.chmod(d, 0o700).catch(() => undefined);
    const entries = await fsp.readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries) if (e.isDirectory()) await unlock(path.join(d, e.name));
  };
  await unlock(dir);
  await fsp.rm(dir, { recursive: true, force: true });
}
