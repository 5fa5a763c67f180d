/**
 * A folder moved across devices (the fallback of an inbox move): copied entry by entry, then removed
 * from the source only where it is still what was copied. The inbox is written by others, so any
 * entry may be swapped for a symlink or a FIFO at any moment:
 *
 * - both ends are folders of trees that are never read or changed through a link (for the inbox
 *   move, the one tree of the workspace): every folder read, made into or removed from is held open
 *   and checked from its tree's root at the moment of the call, so `_inbox`, a folder of it or a
 *   folder of the copy swapped for a symlink meanwhile is refused, never followed;
 * - files are read as the sync reads them ({@link HeldFolder.source}, through their folder held
 *   open: never through a symlink, at their name or on the folders' way, never from a FIFO or
 *   device) and written as new files with
 *   their mode and times, each flushed to disk (`fsync`);
 * - symlinks are copied as links (their target text), never followed; folders are created one by one
 *   and get their mode and times once their content is in, and are flushed then (their entries);
 * - the copy is renamed into place and the folder it goes into flushed before anything is removed
 *   (across devices a crash could otherwise keep a removal and lose the copy);
 * - FIFOs, sockets and devices are not copied;
 * - afterwards an entry is removed only when it is still the one copied (same device and inode, and
 *   for a file the same size and time, for a link the same target), a folder only when empty.
 *   Everything else stays where it was and is listed in {@link FolderCopy.left}, so nothing that was
 *   not copied is ever lost.
 */
import { constants as fsConstants, promises as fsp, type Dirent, type Stats } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import type { OpenedLocalFile } from "../providers/types.js";
import { INBOX_DIR } from "../sync/index.js";
import { LocalPathError, syncFolderHandle, WorkspaceFs, type HeldFolder, type Ident } from "../util/safe-fs.js";

/** An entry of a moved folder that is still in the source. */
export interface LeftBehind {
  /** Its path inside the folder, `/`-separated (`""`: the folder itself, replaced during the move). */
  rel: string;
  /** Why it was not moved, for the user. */
  why: string;
  /** Whether moving the folder again can bring it over (not a FIFO, say, nor an entry already copied). */
  retry: boolean;
}

/** An entry as it was when copied: removed afterwards only if it still is. */
interface Copied {
  rel: string;
  kind: "file" | "link" | "dir";
  dev: number;
  ino: number;
  /** Files only (0 otherwise). */
  size: number;
  /** Files only (0 otherwise). */
  mtimeMs: number;
  /** Links only: the target text copied (a new link can reuse a freed inode). */
  target?: string;
}

/** Why an entry was not moved: see {@link LeftBehind}. */
const WHY = {
  special: { why: "a FIFO, socket or device: these are never copied", retry: false },
  changed: { why: "changed during the move (replaced, or a symlink or special file took its name): not copied", retry: true },
  lease: { why: "held by another program (a lease): not copied", retry: true },
  changedAfter: { why: "changed during the move: kept here as it is now, the moved copy may not have the change", retry: true },
  added: { why: "added during the move: not copied", retry: true },
} satisfies Record<string, Omit<LeftBehind, "rel">>;

/** Error codes of a read refusal's cause that mean "in use", not "changed". */
const LEASE_CODES = new Set(["EAGAIN", "EWOULDBLOCK"]);

const codeOf = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;

/** The parent of a `/`-separated path (`""` at the top). */
function parentOf(rel: string): string {
  const i = rel.lastIndexOf("/");
  return i < 0 ? "" : rel.slice(0, i);
}

/** The last name of a `/`-separated path. */
function baseOf(rel: string): string {
  return rel.slice(rel.lastIndexOf("/") + 1);
}

/** `/`-separated `rel` under `dir` of the same tree (`dir` itself for `""`). */
function joinRel(dir: string, rel: string): string {
  return dir && rel ? `${dir}/${rel}` : dir || rel;
}

/** A folder of a tree (its path in the tree, `/`-separated; `""`: the tree's root). */
export interface TreeFolder {
  tree: WorkspaceFs;
  rel: string;
}

/** True when `st` is still the entry `entry` recorded. */
function isSame(st: Stats, entry: Copied): boolean {
  if (st.dev !== entry.dev || st.ino !== entry.ino) return false;
  if (entry.kind === "dir") return st.isDirectory();
  if (entry.kind === "link") return st.isSymbolicLink();
  return st.isFile() && st.size === entry.size && st.mtimeMs === entry.mtimeMs;
}

/**
 * Removes regular file `name` of `folder` (held open, {@link HeldFolder.check}ed right before)
 * only if it is still the file `st` describes (same device, inode, size and time): a file moved by
 * copy, or by a hard link, whose name took another file meanwhile, or that was written to
 * meanwhile, is kept. True when removed (or already gone), false when kept.
 */
export async function unlinkIfSameIn(folder: HeldFolder, name: string, st: Stats): Promise<boolean> {
  const entry: Copied = { rel: "", kind: "file", dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
  try {
    await folder.check();
    const at = folder.path(name);
    if (!isSame(await fsp.lstat(at), entry)) return false;
    await fsp.unlink(at);
    return true;
  } catch (err) {
    if (codeOf(err) === "ENOENT") return true;
    throw err;
  }
}

/**
 * {@link unlinkIfSameIn} of file `abs`, in its folder held open (the caller vouches for the
 * folders on its way: that folder's own path may hold links).
 */
export async function unlinkIfSame(abs: string, st: Stats): Promise<boolean> {
  const tree = await WorkspaceFs.open(path.dirname(abs), path.dirname(abs));
  return tree.inFolder("", (folder) => unlinkIfSameIn(folder, path.basename(abs), st));
}

/** Flags of the open that sets a copied folder's mode and times: never through a link at its name. */
const DIR_FLAGS = fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | (fsConstants.O_NOFOLLOW ?? 0);

/**
 * Gives copied folder `name` of `folder` the mode and times of `st`, on a descriptor opened
 * through its folder held open (no link at the name, or on the way, is followed), and flushes its
 * entries to disk (its files were flushed as they were copied).
 */
async function setModeAndTimes(folder: HeldFolder, name: string, st: Stats): Promise<void> {
  await folder.check();
  const handle = await fsp.open(folder.path(name), DIR_FLAGS);
  try {
    await handle.chmod(st.mode & 0o7777);
    await handle.utimes(st.atime, st.mtime);
    await syncFolderHandle(handle);
  } finally {
    await handle.close();
  }
}

/**
 * `read` of entry `name` of `folder` (`"."`: the folder itself), only while it is one entry of its
 * kind (`isKind`), the same device and inode before and after, its folder still where it was
 * checked; else the refusal {@link changed} of `treeRel`.
 */
async function readUnchanged<T>(folder: HeldFolder, name: string, treeRel: string, isKind: (st: Stats) => boolean, read: (at: string) => Promise<T>): Promise<{ st: Stats; value: T }> {
  const at = folder.path(name);
  const st = await fsp.lstat(at);
  if (!isKind(st)) throw changed(treeRel);
  const value = await read(at);
  await folder.check();
  const after = await fsp.lstat(at);
  if (after.dev !== st.dev || after.ino !== st.ino || !isKind(after)) throw changed(treeRel);
  return { st, value };
}

/** A refusal of an entry that is no longer what the walk found. */
function changed(treeRel: string): LocalPathError {
  return new LocalPathError(treeRel, "it changed during the move", undefined, "read");
}

/**
 * One folder copied into a new folder, then removed where unchanged (see the module comment).
 * Both are folders of trees that are never read or changed through a link (for the inbox move, the
 * workspace): every folder read, made or changed is held open and checked from the tree's root
 * ({@link WorkspaceFs.inFolder}) at the moment of the call. Exported for the inbox move and its
 * tests; the steps are public so that tests can put something else at a name between the walk and
 * the read.
 */
export class FolderCopy {
  /** Entries left in the source, with why (filled by the copy and by {@link removeCopied}). */
  readonly left: LeftBehind[] = [];
  /** Copied entries, children before their folder. */
  private readonly copied: Copied[] = [];
  /** The source's tree. */
  private readonly tree: WorkspaceFs;
  /** The source's path in {@link tree}. */
  private readonly name: string;

  /** Prepares the copy of folder `from` to `to` (which must not exist; its parent must). */
  constructor(
    from: TreeFolder,
    /** Where the copy goes (created by the copy). */
    private readonly to: TreeFolder,
  ) {
    this.tree = from.tree;
    this.name = from.rel;
  }

  /**
   * Prepares the copy of folder `src` to `dest` (which must not exist), each in a tree rooted at
   * its parent folder (the caller vouches for the folders on the way to those; the inbox move
   * uses the workspace as its one tree instead).
   */
  static async open(src: string, dest: string): Promise<FolderCopy> {
    const from = await WorkspaceFs.open(path.dirname(src), INBOX_DIR);
    const to = await WorkspaceFs.open(path.dirname(dest), "the target folder");
    return new FolderCopy({ tree: from, rel: path.basename(src) }, { tree: to, rel: path.basename(dest) });
  }

  /**
   * Copies the whole folder. Entries that cannot be copied safely are skipped (see {@link left});
   * throws when the folder itself cannot be read, or on any write or disk error (the caller removes
   * the partial copy, through its folders held open: {@link WorkspaceFs.removeOwnTree}).
   */
  async copyAll(): Promise<void> {
    await this.copyFolder("");
  }

  /**
   * The copy's own folder (device and inode, looked at right after this copy made it), once made:
   * what may be removed as this copy's ({@link WorkspaceFs.removeOwnTree}); undefined when the
   * copy made none (its name was taken).
   */
  get madeFolder(): Ident | undefined {
    return this.made;
  }

  private made: Ident | undefined;

  /** Copies folder `rel` (`""`: the folder itself) and everything in it, then sets its mode and times. */
  async copyFolder(rel: string): Promise<void> {
    const listed = await this.readFolder(rel);
    if (!listed) return;
    await this.inDestParent(rel, async (folder, name) => {
      await folder.makeFolder(name);
      if (rel === "") this.made = await fsp.lstat(folder.path(name));
    });
    for (const entry of listed.entries) await this.copyEntry(rel ? `${rel}/${entry.name}` : entry.name, entry);
    await this.inDestParent(rel, (folder, name) => setModeAndTimes(folder, name, listed.st));
    this.record(rel, "dir", listed.st);
  }

  /** Copies regular file `rel` with its mode and times: read only if it still is one, at its real place. */
  async copyFile(rel: string): Promise<void> {
    let from: OpenedLocalFile<FileHandle>;
    try {
      // Opened through its folder held open: a folder on the way swapped for a link is never
      // opened through, not even to be refused after (a device's open alone can act).
      const treeRel = this.treeRel(rel);
      from = await this.tree.inFolder(parentOf(treeRel), (folder) => folder.source(baseOf(treeRel)).open());
    } catch (err) {
      this.leaveOrThrow(rel, err);
      return;
    }
    try {
      const st = await from.handle.stat();
      // Times set on the descriptor (a link put at the copy's name meanwhile is not followed), and
      // flushed to disk: the source is removed afterwards.
      await this.inDestParent(rel, (folder, name) => folder.copyIn(from, name, { times: { atime: st.atime, mtime: st.mtime }, durable: true }));
      this.record(rel, "file", st);
    } finally {
      await from.handle.close();
    }
  }

  /** Copies symlink `rel` as a link with the same target text (never followed). */
  async copyLink(rel: string): Promise<void> {
    let link: { target: string; st: Stats };
    try {
      link = await this.readLink(rel);
    } catch (err) {
      this.leaveOrThrow(rel, err);
      return;
    }
    await this.inDestParent(rel, async (folder, name) => {
      await folder.check();
      await fsp.symlink(link.target, folder.path(name));
    });
    this.record(rel, "link", link.st, link.target);
  }

  /**
   * Removes from the source what was copied and is still the same, folders only when empty; what
   * stays is added to {@link left}. Never throws: the copy is in place by now.
   */
  async removeCopied(): Promise<void> {
    for (const entry of this.copied) await this.removeOne(entry);
  }

  private async copyEntry(rel: string, entry: Dirent): Promise<void> {
    if (entry.isDirectory()) await this.copyFolder(rel);
    else if (entry.isFile()) await this.copyFile(rel);
    else if (entry.isSymbolicLink()) await this.copyLink(rel);
    else this.left.push({ rel, ...WHY.special });
  }

  /**
   * Folder `rel`'s stats and entries (sorted by name), read where it really is: the same folder,
   * reached without a link, before and after the listing. `undefined` when it is skipped or gone.
   */
  private async readFolder(rel: string): Promise<{ st: Stats; entries: Dirent[] } | undefined> {
    const treeRel = this.treeRel(rel);
    try {
      // Held open: the names read are the checked folder's, wherever its path points meanwhile.
      return await this.tree.inFolder(treeRel, async (folder) => {
        const read = await readUnchanged(folder, ".", treeRel, (st) => st.isDirectory(), (at) => fsp.readdir(at, { withFileTypes: true }));
        return { st: read.st, entries: read.value.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) };
      });
    } catch (err) {
      return this.leaveOrThrow(rel, err);
    }
  }

  /** Symlink `rel`'s target text, read where it really is; the same link before and after. */
  private async readLink(rel: string): Promise<{ target: string; st: Stats }> {
    const treeRel = this.treeRel(rel);
    return this.tree.inFolder(parentOf(treeRel), async (folder) => {
      const read = await readUnchanged(folder, baseOf(treeRel), treeRel, (st) => st.isSymbolicLink(), (at) => fsp.readlink(at));
      return { target: read.value, st: read.st };
    });
  }

  /**
   * A read of `rel` failed: an entry gone since the listing is nothing to move, a refused one stays
   * in the source (and is listed); any other error is thrown, as is every error for the folder itself.
   */
  private leaveOrThrow(rel: string, err: unknown): undefined {
    if (rel === "") throw err;
    const code = codeOf(err);
    if (code === "ENOENT") return undefined;
    // A folder on the way turned into a file or a link between the check and the call.
    if (!(err instanceof LocalPathError) && code !== "ENOTDIR" && code !== "ELOOP") throw err;
    const lease = err instanceof LocalPathError && LEASE_CODES.has(codeOf(err.cause) ?? "");
    this.left.push({ rel, ...(lease ? WHY.lease : WHY.changed) });
    return undefined;
  }

  private async removeOne(entry: Copied): Promise<void> {
    const treeRel = this.treeRel(entry.rel);
    try {
      // Through its folder held open: never removed anywhere but where it was checked.
      await this.tree.inFolder(parentOf(treeRel), async (folder) => {
        const at = folder.path(baseOf(treeRel));
        if (!isSame(await fsp.lstat(at), entry) || (entry.kind === "link" && (await fsp.readlink(at)) !== entry.target)) {
          this.left.push({ rel: entry.rel, ...WHY.changedAfter });
          return;
        }
        // Still where it was checked, right before the removal.
        await folder.check();
        if (entry.kind === "dir") await fsp.rmdir(at);
        else await fsp.unlink(at);
      });
    } catch (err) {
      await this.notRemoved(entry, err);
    }
  }

  /** Lists why `entry` stays: entries added to a folder meanwhile are listed by name. */
  private async notRemoved(entry: Copied, err: unknown): Promise<void> {
    const code = codeOf(err);
    if (code === "ENOENT") return;
    if (entry.kind === "dir" && (code === "ENOTEMPTY" || code === "EEXIST")) {
      await this.listAdded(entry.rel);
      return;
    }
    const why = err instanceof LocalPathError ? WHY.changedAfter : { why: `could not be removed (${code ?? String(err)}): the moved copy is complete`, retry: false };
    this.left.push({ rel: entry.rel, ...why });
  }

  /** Adds the entries of folder `rel` that no one has listed yet: they appeared after the walk. */
  private async listAdded(rel: string): Promise<void> {
    const names = await this.tree
      .inFolder(this.treeRel(rel), async (folder) => {
        const found = await fsp.readdir(folder.path("."));
        await folder.check();
        return found;
      })
      .catch(() => [] as string[]);
    for (const name of names.sort()) {
      const child = rel ? `${rel}/${name}` : name;
      if (!this.left.some((l) => l.rel === child || l.rel.startsWith(`${child}/`))) this.left.push({ rel: child, ...WHY.added });
    }
  }

  private record(rel: string, kind: Copied["kind"], st: Stats, target?: string): void {
    const file = kind === "file";
    this.copied.push({ rel, kind, dev: st.dev, ino: st.ino, size: file ? st.size : 0, mtimeMs: file ? st.mtimeMs : 0, target });
  }

  /** `rel` (inside the folder) as a path of the source's tree. */
  private treeRel(rel: string): string {
    return joinRel(this.name, rel);
  }

  /**
   * Runs `fn` on the folder that `rel`'s copy goes into, held open and checked from the root of
   * the copy's tree (a folder of the copy swapped for a link since it was made is refused), and on
   * the copy's name in it.
   */
  private inDestParent<T>(rel: string, fn: (folder: HeldFolder, name: string) => Promise<T>): Promise<T> {
    const destRel = joinRel(this.to.rel, rel);
    return this.to.tree.inFolder(parentOf(destRel), (folder) => fn(folder, baseOf(destRel)));
  }
}
