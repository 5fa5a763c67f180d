/**
 * An entry of an inbox move as its folder, held open, and its name in it. Every call that reads,
 * names or removes the entry goes through the folder's descriptor ({@link HeldFolder.path}), never
 * its path, and the folder is checked ({@link checkFolders}) right before each name change and each
 * removal: the workspace is hostile, and a folder swapped for a symbolic link, or moved away,
 * between a check and a use must never be reached.
 */
import path from "node:path";
import { LocalPathError, WorkspaceFs, type HeldFolder } from "../util/safe-fs.js";

/** An entry of a move: name `name` in folder `folder` (held open) of tree `tree`. */
export interface Place {
  /** The tree of the folder (for the inbox move, the workspace). */
  tree: WorkspaceFs;
  /** The folder, held open (the caller closes it). */
  folder: HeldFolder;
  /** The entry's name in it. */
  name: string;
}

/** The path of `place` for a call made now: through its folder's descriptor while held. */
export function pathOf(place: Place): string {
  return place.folder.path(place.name);
}

/** The path of `place` in its tree, `/`-separated. */
export function relOf(place: Place): string {
  return place.folder.rel ? `${place.folder.rel}/${place.name}` : place.name;
}

/** Name `name` in the folder of `place`. */
export function sibling(place: Place, name: string): Place {
  return { ...place, name };
}

/**
 * Checks that each folder is still where it was checked ({@link HeldFolder.check}), right before a
 * name in it is made, changed or removed. One moved away, or reached through a symbolic link now,
 * is refused with a {@link LocalPathError} whose reason the move reports.
 */
export async function checkFolders(...folders: HeldFolder[]): Promise<void> {
  for (const folder of folders) {
    try {
      await folder.check();
    } catch (err) {
      if (!(err instanceof LocalPathError)) throw err;
      const what = folder.rel || "the workspace folder";
      throw new LocalPathError(folder.rel || ".", `${what} changed during the move (moved away, or a symbolic link took its place): nothing is moved, read or removed through it, skipped`, err);
    }
  }
}

/**
 * Runs `fn` on `abs` as a {@link Place}: its parent folder held open as the root of a tree of its
 * own, named `label` in refusals. The caller vouches for the folders on the way to that parent (its
 * path may hold links): the path forms of a move's steps, kept for their callers; the inbox move
 * holds folders of the workspace instead.
 */
export async function atPath<T>(abs: string, label: string, fn: (place: Place) => Promise<T>): Promise<T> {
  const tree = await WorkspaceFs.open(path.dirname(abs), label);
  return tree.inFolder("", (folder) => fn({ tree, folder, name: path.basename(abs) }));
}
