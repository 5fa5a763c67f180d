/**
 * Writes, renames and deletes inside one folder tree (the synced workspace, the local provider's
 * folder) that never go through a
 * symbolic link: right before each operation the real parent chain is checked (one `realpath` of
 * the parent compared with the expected path; on a difference every component is `lstat`ed), and
 * folders are created one level at a time, each checked, never with a recursive `mkdir` that would
 * follow a link. Folders created or checked once are remembered for the run, so a download costs
 * one extra `realpath` call. Whatever the tree holds, nothing outside it is created, changed or
 * deleted (short of a race with another process swapping a folder between the check and the call,
 * which Node cannot close without `openat`). Where the kernel names open descriptors, that race is
 * closed: the folder, checked, is held open, and names in it are created, checked, renamed and
 * removed through its descriptor (`/proc/self/fd/N/<name>`, which is `openat`), never through its
 * path again; the descriptor's real path is read before a file gets its name, so a folder moved
 * away is refused. The small copies into the local provider's folder hold one folder for a turn of
 * the event loop ({@link WorkspaceFs.createFileSync}); a write or delete that spans `await`s holds
 * its own ({@link HeldFolder}: workspace downloads, conflict copies, deletions, the local provider's
 * large writes and deletions, and every step of an inbox move, in the workspace's tree). Without
 * `/proc` the path is checked before each call, with the race above.
 *
 * Refusals are {@link LocalPathError}s with a reason for the run's `skipped` list.
 */
import fs, { promises as fsp, type BigIntStats } from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { WorkspaceSyncError } from "../errors.js";
import type { FileHandle } from "node:fs/promises";
import type { LocalSource, OpenedLocalFile } from "../providers/types.js";
import { childPath, underRoot } from "./flat-join.js";
import { PROC_FD_DIR, openChecked, openCheckedSync, procLink, procNamesDescriptors, realPathOf, realPathOfSync, type OpenCheck } from "./local-read.js";
import { utimesArg } from "./mtime.js";

/** Why a local path was refused: a symlink in the way, or a name the file system cannot hold here. */
export class LocalPathError extends WorkspaceSyncError {
  /** Text for a skip note. */
  readonly reason: string;
  constructor(rel: string, reason: string, cause?: unknown, refused: "written" | "read" = "written") {
    super("INVALID_PATH", `Not ${refused}: ${rel}: ${reason}`, { path: rel, cause });
    this.reason = reason;
  }
}

/** Node error codes that mean "this name cannot exist here" rather than "the disk or the run failed". */
const NAME_ERRNOS = new Set(["ENAMETOOLONG", "ENOTDIR", "EISDIR", "EEXIST", "ENOTEMPTY", "EINVAL", "EILSEQ", "ELOOP"]);

/** True when `err` (or its cause) is a refusal or file-system error about one name, not about the run. */
export function isLocalNameProblem(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (e instanceof LocalPathError) return true;
    if (typeof e.code === "string" && NAME_ERRNOS.has(e.code)) return true;
  }
  return false;
}

/** The skip reason for a name problem. */
export function nameProblemReason(err: unknown): string {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (e instanceof LocalPathError) return e.reason;
    switch (e.code) {
      case "ENAMETOOLONG":
        return "name too long for the file system it goes to: skipped";
      case "ENOTDIR":
      case "EEXIST":
        return "a file has the name of a folder on this path (or the other way round) where it goes: skipped";
      case "EISDIR":
      case "ENOTEMPTY":
        return "a folder has this file's name where it goes: skipped";
      case "ELOOP":
        return "a symlink is in the way: skipped";
      case "EINVAL":
      case "EILSEQ":
        return "the file system it goes to refuses this name: skipped";
    }
  }
  return "could not be written: skipped";
}

const NOT_REGULAR_REASON = (label: string, rel: string): string => `${rel} is not a regular file now in ${label} (a folder, FIFO, socket or device has its name); it is not read: skipped`;

const READ_LINK_REASON = (label: string, rel: string): string => `${rel} in ${label} is a symlink now, or a folder on its way is; nothing is ever read through one: skipped`;

const SYMLINK_REASON = (label: string, dir: string): string => `${label} has a symlink at ${dir}; nothing is ever written through one: skipped, the other copy is kept`;

/** A guarded view of one folder tree. */
export class WorkspaceFs {
  private readonly known = new Set<string>();

  private constructor(
    /** Absolute root as given. */
    readonly root: string,
    /** The root's real path; resolved again while the root does not exist yet. */
    private realRoot: string | undefined,
    /** How reasons name the tree (`the workspace`, `the local provider folder`). */
    readonly label: string,
    /** Reads (never writes) go through symlinks: the user chose `copySymlinks`. */
    private readonly readsFollowLinks: boolean,
  ) {}

  /**
   * Opens `root` (its own path may contain links; everything below it may not).
   * `readsFollowLinks`: {@link source} reads through symlinks, as the user chose (`copySymlinks`);
   * writes never do.
   */
  static async open(root: string, label = "the workspace", options: { readsFollowLinks?: boolean } = {}): Promise<WorkspaceFs> {
    const abs = path.resolve(root);
    const real = await fsp.realpath(abs).catch(() => undefined);
    return new WorkspaceFs(abs, real, label, options.readsFollowLinks === true);
  }

  /** Absolute path of a `/`-separated relative path. */
  abs(rel: string): string {
    return underRoot(this.root, rel);
  }

  /**
   * Makes sure `relDir` exists as real folders all the way down, creating missing levels one at a
   * time. Throws {@link LocalPathError} for a symlink or a file in the way. Returns the absolute path.
   */
  async ensureDir(relDir: string): Promise<string> {
    try {
      return await this.ensureDirOnce(relDir);
    } catch (err) {
      // A folder remembered from earlier (it or one above it) that was removed or replaced
      // since: every level is looked at again, once.
      if (!this.forgetChain(relDir)) throw err;
      return this.ensureDirOnce(relDir);
    }
  }

  /**
   * Forgets `relDir` and the folders above it as known to exist (a hint only: a provider lives
   * across runs, and the user may remove a folder between two). True when any was remembered.
   */
  private forgetChain(relDir: string): boolean {
    let any = false;
    for (const k of [...this.known]) {
      if (k === relDir || relDir.startsWith(`${k}/`)) {
        this.known.delete(k);
        any = true;
      }
    }
    return any;
  }

  private async ensureDirOnce(relDir: string): Promise<string> {
    if (relDir !== "" && !this.known.has(relDir)) {
      let cur = "";
      let aboveKnown = false;
      for (const seg of relDir.split("/")) {
        const parent = cur;
        cur = cur ? `${cur}/${seg}` : seg;
        if (this.known.has(cur)) {
          aboveKnown = true;
          continue;
        }
        // The folders remembered above are looked at again before a level is made in them: one
        // swapped for a symlink since would take the new folder outside the tree.
        if (aboveKnown) await this.verifyDir(parent);
        aboveKnown = false;
        const abs = this.abs(cur);
        let st = await lstatOrUndefined(abs, cur, this.label);
        if (!st) {
          try {
            this.mkdirInSync(parent, seg, cur);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw asNameErrorIn(err, cur, this.label);
            st = await lstatOrUndefined(abs, cur, this.label);
          }
        }
        if (st?.isSymbolicLink()) throw new LocalPathError(cur, SYMLINK_REASON(this.label, cur));
        if (st && !st.isDirectory()) throw new LocalPathError(cur, `${cur} is a file in ${this.label}, not a folder: skipped`);
        this.known.add(cur);
      }
    }
    return this.verifyDir(relDir);
  }

  /**
   * Makes folder `seg` (`cur` in the tree) in folder `parent`, through the parent's own descriptor
   * (opened at its real path where the tree has it, never through a link at its name, and its real
   * path read back): a folder on the way swapped for a symlink after the look at `cur` is never
   * made through. At the top (the root's own path may be a link), and where the kernel names no
   * descriptor or spells the path otherwise (a case-insensitive disk), checked by path right
   * before, with the small race of every call by path. Synchronous: one open and one `mkdir` per
   * folder made, far fewer than the files written into them.
   */
  private mkdirInSync(parent: string, seg: string, cur: string): void {
    if (parent === "") {
      fs.mkdirSync(this.abs(cur));
      return;
    }
    const fd = this.openFolderSync(parent, CHAIN_FLAGS);
    if (fd !== undefined) {
      try {
        fs.mkdirSync(childPath(procLink(fd), seg));
        return;
      } catch (err) {
        // (A sandbox may refuse calls through /proc: then by path, checked first, as below.)
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== "EACCES" && code !== "EPERM") throw err;
      } finally {
        fs.closeSync(fd);
      }
    }
    this.verifyDirSync(parent);
    fs.mkdirSync(this.abs(cur));
  }

  /**
   * Folder `relDir` opened with `flags`: by its real path whole (one open), taken where the
   * descriptor's real path is the one expected; else reached level by level ({@link
   * openDownSync}: a folder on the way swapped for a link is never passed through; the caller
   * compares the real path again, which then differs only in spelling). `undefined` where the
   * kernel names no descriptor. The caller closes the descriptor.
   */
  private openFolderSync(relDir: string, flags: number): number | undefined {
    if (procNamesFiles === false) return undefined;
    const expected = this.realDirSync(relDir);
    try {
      const fd = fs.openSync(expected, flags);
      const real = realPathOrCloseSync(fd);
      procNamesFiles ??= real !== undefined;
      if (real === expected) return fd;
      fs.closeSync(fd);
      if (real === undefined) return undefined;
    } catch (err) {
      // (A folder we may not read is the caller's to handle; anything else is looked at level by level.)
      if ((err as NodeJS.ErrnoException).code === "EACCES") throw err;
    }
    return this.openDownSync(relDir, flags);
  }

  /**
   * Folder `relDir` opened with `flags`, reached from the root's real path one level at a time,
   * each opened through the one above (`/proc/self/fd/N/<name>`, as `openat` would) and never
   * through a link (`O_NOFOLLOW`; the levels on the way with `O_PATH`, which needs no read
   * permission): a folder on the way swapped for a symlink at any moment is never passed through
   * (opening the real path whole, only its last name refused a link). `undefined` where the
   * kernel names no descriptor: the caller goes by path, checked first. A link or file on the way
   * is a {@link LocalPathError}; a name missing, `ENOENT`. The caller closes the descriptor.
   */
  private openDownSync(relDir: string, flags: number): number | undefined {
    if (procNamesFiles === false || O_PATH === 0) return undefined;
    const realRoot = this.realPathSync("");
    const segs = relDir === "" ? [] : relDir.split("/");
    let fd: number;
    try {
      fd = fs.openSync(realRoot, segs.length === 0 ? flags : CHAIN_FLAGS);
    } catch (err) {
      throw asNameErrorIn(err, ".", this.label);
    }
    try {
      if (procNamesFiles === undefined) procNamesFiles = realPathOfSync(fd) !== undefined;
      if (!procNamesFiles) {
        fs.closeSync(fd);
        return undefined;
      }
      let cur = "";
      for (let i = 0; i < segs.length; i++) {
        cur = cur ? `${cur}/${segs[i]!}` : segs[i]!;
        const at = childPath(procLink(fd), segs[i]!);
        let next: number;
        try {
          next = fs.openSync(at, i === segs.length - 1 ? flags : CHAIN_FLAGS);
        } catch (err) {
          throw this.notAFolderOnTheWay(err, at, cur);
        }
        fs.closeSync(fd);
        fd = next;
      }
      return fd;
    } catch (err) {
      try {
        fs.closeSync(fd);
      } catch {
        /* closed already (no /proc) */
      }
      throw err;
    }
  }

  /** An open of folder `cur` (at `at`) refused: a link or a file there is a {@link LocalPathError}; anything else as it came. */
  private notAFolderOnTheWay(err: unknown, at: string, cur: string): unknown {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "ENOTDIR" && code !== "ELOOP") return err;
    const st = lstatOrUndefinedSync(at, cur, this.label);
    if (st?.isSymbolicLink()) return new LocalPathError(cur, SYMLINK_REASON(this.label, cur));
    return new LocalPathError(cur, `${cur} is a file in ${this.label}, not a folder: skipped`);
  }


  /**
   * {@link ensureDir} with synchronous calls, with the same checks: for small files, whose folder
   * metadata is in the page cache, a thread-pool round trip per call costs more than the call.
   */
  ensureDirSync(relDir: string): string {
    try {
      return this.ensureDirOnceSync(relDir);
    } catch (err) {
      if (!this.forgetChain(relDir)) throw err;
      return this.ensureDirOnceSync(relDir);
    }
  }

  private ensureDirOnceSync(relDir: string): string {
    if (relDir !== "" && !this.known.has(relDir)) {
      let cur = "";
      let aboveKnown = false;
      for (const seg of relDir.split("/")) {
        const parent = cur;
        cur = cur ? `${cur}/${seg}` : seg;
        if (this.known.has(cur)) {
          aboveKnown = true;
          continue;
        }
        if (aboveKnown) this.verifyDirSync(parent);
        aboveKnown = false;
        const abs = this.abs(cur);
        let st = lstatOrUndefinedSync(abs, cur, this.label);
        if (!st) {
          try {
            this.mkdirInSync(parent, seg, cur);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw asNameErrorIn(err, cur, this.label);
            st = lstatOrUndefinedSync(abs, cur, this.label);
          }
        }
        if (st?.isSymbolicLink()) throw new LocalPathError(cur, SYMLINK_REASON(this.label, cur));
        if (st && !st.isDirectory()) throw new LocalPathError(cur, `${cur} is a file in ${this.label}, not a folder: skipped`);
        this.known.add(cur);
      }
    }
    return this.verifyDirSync(relDir);
  }

  /** {@link verifyDir} with synchronous calls (see {@link ensureDirSync}). */
  verifyDirSync(relDir: string): string {
    const abs = this.abs(relDir);
    const expected = this.realPathSync(relDir);
    const realRoot = this.realRoot!;
    let real: string;
    try {
      real = fs.realpathSync.native(abs);
    } catch (err) {
      throw asNameErrorIn(err, relDir, this.label);
    }
    if (real === expected) return abs;
    let cur = "";
    for (const seg of relDir.split("/").filter(Boolean)) {
      cur = cur ? `${cur}/${seg}` : seg;
      this.checkSegment(lstatOrUndefinedSync(this.abs(cur), cur, this.label), cur);
    }
    this.checkNotReplaced(relDir, realRoot, real);
    return abs;
  }

  /**
   * A path under which `<dir>/<name>` addresses entries of folder `relDir` itself, made and checked
   * as {@link ensureDirSync} does, for synchronous calls made right away (no `await` in between;
   * see {@link createFileSync}). Where the kernel names open descriptors (`/proc/self/fd`), the
   * folder is held open once checked and the path goes through its descriptor (`/proc/self/fd/N`),
   * as `openat` would: whatever happens to the folder's path since (a folder on the way swapped for
   * a symlink), a name is looked up in the very folder that was checked, never through a link, with
   * no window between a check and a call. Each use checks where the held folder is now (one
   * `readlink` of its descriptor), so a folder moved out of the tree is refused too. Up to {@link
   * HELD_FOLDERS} folders are held at a time (files come folder by folder, in two places of a
   * sync's plan at once: see `forEachLimit`'s `twoHalves`), and only until this turn of the event
   * loop ends (or more folders are asked for: the one used longest ago is let go). Elsewhere it is
   * the folder's absolute path, checked now.
   */
  folderSync(relDir: string): string {
    const at = this.held.findIndex((h) => h.rel === relDir);
    if (at >= 0) {
      const held = this.held[at]!;
      // Still where it was checked; else (moved, or removed) checked again by path and held anew.
      if (realPathOfSync(held.fd) === this.realDirSync(relDir)) {
        if (at > 0) this.held.unshift(...this.held.splice(at, 1));
        return held.via;
      }
      this.releaseHeld(at);
    }
    const abs = this.ensureDirSync(relDir);
    if (procNamesFiles === false) return abs;
    let fd: number | undefined;
    try {
      fd = this.openFolderSync(relDir, HELD_FOLDER_FLAGS);
    } catch (err) {
      throw err instanceof LocalPathError ? err : asNameErrorIn(err, relDir, this.label);
    }
    if (fd === undefined) return this.verifyDirSync(relDir);
    const real = realPathOrCloseSync(fd);
    procNamesFiles = real !== undefined;
    if (real !== this.realDirSync(relDir)) {
      // No /proc; or the file system's own spelling (case-insensitive; reached level by level,
      // it is the folder): by path, checked again now.
      fs.closeSync(fd);
      return this.verifyDirSync(relDir);
    }
    const via = procLink(fd);
    this.held.unshift({ rel: relDir, fd, via });
    while (this.held.length > HELD_FOLDERS) this.releaseHeld(this.held.length - 1);
    if (!this.releaseQueued) {
      this.releaseQueued = true;
      setImmediate(() => {
        this.releaseQueued = false;
        this.releaseFolder();
      }).unref();
    }
    return via;
  }

  /**
   * A descriptor of folder `relDir` of its own (the caller closes it), made and checked as {@link
   * folderSync} does, with the real path it had then: for calls made through it later, or on
   * another thread, each of which checks first that the descriptor still names that path
   * (`/proc/self/fd/N`, as {@link folderSync} does). `undefined` where the kernel does not name
   * open descriptors: no call can be made through one there.
   */
  shareFolderSync(relDir: string): { fd: number; real: string } | undefined {
    const via = this.folderSync(relDir);
    if (!via.startsWith(PROC_FD_DIR)) return undefined;
    let fd: number;
    try {
      // The very folder held (its descriptor's own link): never its path again.
      fd = fs.openSync(via, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    } catch (err) {
      throw asNameErrorIn(err, relDir, this.label);
    }
    return { fd, real: this.realDirSync(relDir) };
  }

  /** Closes the folders {@link folderSync} holds open, if any. */
  releaseFolder(): void {
    const held = this.held;
    this.held = [];
    for (const h of held) fs.closeSync(h.fd);
  }

  /** Closes the folder held at `at` in {@link held}. */
  private releaseHeld(at: number): void {
    const [h] = this.held.splice(at, 1);
    if (h) fs.closeSync(h.fd);
  }

  /** The folders {@link folderSync} holds, the one used last first. */
  private held: { rel: string; fd: number; via: string }[] = [];
  private releaseQueued = false;

  /**
   * Creates new file `name` in folder `relDir` (`O_EXCL`: never over an existing name, a symlink
   * included) for writing, with `mode` less the umask, through {@link folderSync}'s path `dir`
   * (returned, for the calls that follow at once: {@link renameInSync}). The caller closes `fd`. A
   * folder held open that was removed since is made again, once.
   */
  createFileSync(relDir: string, name: string, mode = 0o666): { fd: number; dir: string } {
    for (let again = true; ; again = false) {
      const dir = this.folderSync(relDir);
      try {
        return { fd: fs.openSync(childPath(dir, name), "wx", mode), dir };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const at = this.held.findIndex((h) => h.via === dir);
        if (!again || at < 0) throw err;
        const heldStats = fs.fstatSync(this.held[at]!.fd);
        this.releaseHeld(at);
        if (code === "ENOENT") continue;
        if (code !== "EACCES" && code !== "EPERM") throw err;
        // Refused through /proc (a sandbox may forbid it): by path, checked first, and only in the
        // very folder that was held (a folder made unwritable and put aside, another in its place,
        // must not turn /proc off); where that works, by path from now on.
        const abs = this.ensureDirSync(relDir);
        if (!sameFile(heldStats, fs.lstatSync(abs))) throw movedError(relDir, this.label);
        const file = { fd: fs.openSync(childPath(abs, name), "wx", mode), dir: abs };
        procNamesFiles = false;
        return file;
      }
    }
  }

  /**
   * Renames `fromName` to `toName` in the folder `dir` from {@link createFileSync} (no `await`
   * since), if `toName` is absent or a regular file (`rel` names it in refusals) and the folder is
   * still where it was checked (one `readlink` of its descriptor).
   */
  renameInSync(dir: string, fromName: string, toName: string, rel: string): void {
    // A descriptor's path only while it is held: another file may have its number since.
    const held = dir.startsWith(PROC_FD_DIR) ? this.held.find((h) => h.via === dir) : undefined;
    if (dir.startsWith(PROC_FD_DIR) && held === undefined) throw new Error(`renameInSync: ${dir} is not a folder held open`);
    // Still where it was when the file was made there (a folder moved out of the tree meanwhile,
    // while the file was written, gets no new name).
    if (held !== undefined && realPathOfSync(held.fd) !== this.realDirSync(held.rel)) throw movedError(held.rel, this.label);
    const to = childPath(dir, toName);
    checkFileSlot(lstatOrUndefinedSync(to, rel, this.label), rel, this.label);
    fs.renameSync(childPath(dir, fromName), to);
  }

  /** A folder on the way to a write must exist, be a folder and not be a link. */
  private checkSegment(st: { isSymbolicLink(): boolean; isDirectory(): boolean } | undefined, cur: string): void {
    if (!st) throw new LocalPathError(cur, `${cur} vanished during the sync: skipped`);
    if (st.isSymbolicLink()) throw new LocalPathError(cur, SYMLINK_REASON(this.label, cur));
    if (!st.isDirectory()) throw new LocalPathError(cur, `${cur} is a file in ${this.label}, not a folder: skipped`);
  }

  /** After the slow path: the folder's real path must still lie inside the tree. */
  private checkNotReplaced(relDir: string, realRoot: string, real: string): void {
    if (relDir === "" || path.relative(realRoot, real).startsWith("..")) {
      throw new LocalPathError(relDir || ".", `${this.label} was replaced during the sync: skipped`);
    }
  }


  /** Checks, now, that `relDir` is a real folder reached without links. Returns its absolute path. */
  async verifyDir(relDir: string): Promise<string> {
    const abs = this.abs(relDir);
    const expected = await this.realPath(relDir);
    const realRoot = this.realRoot!;
    let real: string;
    try {
      real = await fsp.realpath(abs);
    } catch (err) {
      throw asNameErrorIn(err, relDir, this.label);
    }
    if (real === expected) return abs;
    // Slow path: find the link (or accept real folders whose real path differs only by spelling,
    // as on a case-insensitive file system).
    let cur = "";
    for (const seg of relDir.split("/").filter(Boolean)) {
      cur = cur ? `${cur}/${seg}` : seg;
      this.checkSegment(await lstatOrUndefined(this.abs(cur), cur, this.label), cur);
    }
    this.checkNotReplaced(relDir, realRoot, real);
    return abs;
  }

  /**
   * Folder `relDir`, checked now (made first, as {@link ensureDir} makes it, unless `create` is
   * false) and held open for the calls of one write, rename or delete that spans `await`s: see
   * {@link HeldFolder}. The caller closes it.
   */
  async holdFolder(relDir: string, create = true): Promise<HeldFolder> {
    const abs = create ? await this.ensureDir(relDir) : await this.verifyDir(relDir);
    const expected = await this.realPath(relDir);
    const verify = (): Promise<string> => this.verifyDir(relDir);
    const byPath = async (): Promise<HeldFolder> => new HeldFolder(relDir, this.label, undefined, await verify(), expected, verify);
    if (procNamesFiles === false) return new HeldFolder(relDir, this.label, undefined, abs, expected, verify);
    // First its real path whole (one open: only its last name refuses a link, so it is taken only
    // where the descriptor's real path is the one expected); then, where it is not, through its
    // parent reached level by level, never through a link (a folder on the way swapped for one).
    for (let attempt = 0; attempt < 2; attempt++) {
      let handle: FileHandle;
      try {
        const parent = relDir === "" || attempt === 0 ? undefined : this.openDownSync(parentOf(relDir), CHAIN_FLAGS);
        try {
          handle = await fsp.open(parent === undefined ? expected : childPath(procLink(parent), baseOf(relDir)), HELD_FOLDER_FLAGS);
        } catch (err) {
          throw parent === undefined ? err : this.notAFolderOnTheWay(err, childPath(procLink(parent), baseOf(relDir)), relDir);
        } finally {
          if (parent !== undefined) fs.closeSync(parent);
        }
      } catch (err) {
        // A folder we may write but not read (`-wx`) cannot be held: by path, checked before each call.
        if ((err as NodeJS.ErrnoException).code === "EACCES") return byPath();
        throw err instanceof LocalPathError ? err : asNameErrorIn(err, relDir, this.label);
      }
      let real: string | undefined;
      try {
        real = await realPathOf(handle.fd);
      } catch (err) {
        await handle.close();
        throw err;
      }
      procNamesFiles ??= real !== undefined;
      if (real === expected && procNamesFiles) return new HeldFolder(relDir, this.label, handle, procLink(handle.fd), expected, verify);
      // As in folderSync: no /proc, or not what the check found (a swap; reached level by level,
      // a case-insensitive spelling): by path, checked before each call.
      await handle.close();
      if (procNamesFiles === false) break;
    }
    return byPath();
  }

  /** Runs `fn` on existing folder `relDir` held open ({@link holdFolder}), and lets it go after. */
  async inFolder<T>(relDir: string, fn: (folder: HeldFolder) => Promise<T>): Promise<T> {
    const folder = await this.holdFolder(relDir, false);
    try {
      return await fn(folder);
    } finally {
      await folder.close();
    }
  }

  /**
   * Removes folder `rel`, a folder of our own (a temp copy) while it is the folder `made` names
   * (device and inode, taken when it was made: a user's folder renamed to its name is left, before
   * or during the removal), and everything in it, never through a link: each folder is held open (`rel` checked from the root, each sub-folder opened through its
   * parent's descriptor, never through a link at its name), its names read and removed through its
   * descriptor, each removal right after a {@link HeldFolder.check} (a folder swapped for a link
   * since is left); a link inside is removed as a link, and a sub-folder only while it is the folder
   * its parent showed (device and inode: another renamed to its name since is left). A folder the
   * copy made read-only or write-only (its source's mode) gets its owner's read, write and search
   * back first ({@link HeldFolder.letOwnerChangeIn}). Best
   * effort, never throws: what cannot be removed stays (under its temp name). A recursive `rm` by
   * path would follow a folder swapped for a link between its look and its removal of what is inside.
   */
  async removeOwnTree(rel: string, made: Ident): Promise<void> {
    const stillMade = await this.inFolder(parentOf(rel), async (parent) => {
      const st = await fsp.lstat(parent.path(baseOf(rel)));
      if (!st.isDirectory() || !sameIdent(st, made)) return false;
      await parent.letOwnerChangeIn(baseOf(rel), st);
      return true;
    }).catch(() => false);
    if (!stillMade) return;
    let top: HeldFolder;
    try {
      top = await this.holdFolder(rel, false);
    } catch {
      return;
    }
    try {
      // Held by its descriptor wherever the kernel names one (not by path: a folder swapped in
      // for the open, and back, would have its path used), and still the folder made.
      if ((procNamesFiles === true && !top.byDescriptor) || !sameIdent(await fsp.lstat(top.path(".")), made)) return;
      await this.#emptyOwnFolder(top);
    } catch {
      /* left where it is (see above) */
    } finally {
      await top.close();
    }
    await this.inFolder(parentOf(rel), async (parent) => {
      await parent.check();
      if (sameIdent(await fsp.lstat(parent.path(baseOf(rel))), made)) await fsp.rmdir(parent.path(baseOf(rel)));
    }).catch(() => undefined);
  }

  /** Empties held `folder` of {@link removeOwnTree} (each name best effort). */
  async #emptyOwnFolder(folder: HeldFolder): Promise<void> {
    for (const name of await fsp.readdir(folder.path("."))) {
      try {
        await folder.check();
        const st = await fsp.lstat(folder.path(name));
        if (!st.isDirectory()) {
          await fsp.unlink(folder.path(name));
          continue;
        }
        const rel = folder.rel ? `${folder.rel}/${name}` : name;
        await folder.letOwnerChangeIn(name, st);
        const sub = (await folder.holdChild(name, () => this.verifyDir(rel))) ?? (await this.holdFolder(rel, false));
        try {
          if (!sameIdent(await fsp.lstat(sub.path(".")), st)) continue;
          await this.#emptyOwnFolder(sub);
        } finally {
          await sub.close();
        }
        await folder.check();
        if (sameIdent(await fsp.lstat(folder.path(name)), st)) await fsp.rmdir(folder.path(name));
      } catch {
        /* left where it is (see removeOwnTree) */
      }
    }
  }

  /**
   * Regular file `rel` as a {@link LocalSource}: opened only when read, and refused then (a
   * {@link LocalPathError}, a skip note) when it is no longer a regular file (a FIFO or device
   * swapped in is never waited on) or is reached through a symlink: the name itself, or a folder on
   * the way swapped for one since the listing. Where the kernel names an open descriptor's file
   * (`/proc/self/fd`) the check has no window; elsewhere the parent chain and the file's identity
   * are checked right after the open (the same race as for writes).
   */
  source(rel: string): LocalSource {
    const abs = this.abs(rel);
    if (this.readsFollowLinks) return followingSource(abs, rel, this.label);
    return sourceAt(abs, rel, this.label, {
      sync: () => this.realPathSync(rel),
      async: () => this.realPath(rel),
    });
  }

  /** {@link realPathSync} of a folder, remembered for the next call (files come folder by folder). */
  private realDirSync(relDir: string): string {
    const last = this.lastRealDir;
    if (last?.rel === relDir) return last.real;
    const real = this.realPathSync(relDir);
    this.lastRealDir = { rel: relDir, real };
    return real;
  }

  private lastRealDir: { rel: string; real: string } | undefined;

  /** What the real path of `rel` is when no link is on the way (the root's real path is resolved once, on first use). */
  private realPathSync(rel: string): string {
    try {
      this.realRoot ??= fs.realpathSync.native(this.root);
    } catch (err) {
      throw asNameErrorIn(err, ".", this.label);
    }
    return underRoot(this.realRoot, rel);
  }

  private async realPath(rel: string): Promise<string> {
    this.realRoot ??= await fsp.realpath(this.root).catch((err) => {
      throw asNameErrorIn(err, ".", this.label);
    });
    return underRoot(this.realRoot, rel);
  }

  /**
   * Copies regular file `fromRel` to `toRel`, which must not exist (read as {@link source} reads,
   * written into its folder held open), with time `mtimeNs` when given; returns the copy's stats.
   */
  async copyFileExcl(fromRel: string, toRel: string, mtimeNs?: bigint): Promise<BigIntStats> {
    const from = await this.source(fromRel).open();
    try {
      return await this.inFolder(parentOf(toRel), (folder) => folder.copyIn(from, baseOf(toRel), mtimeNs === undefined ? {} : { mtimeNs }));
    } finally {
      await from.handle.close();
    }
  }

  /**
   * Deletes regular file `rel` if it still has `expect`'s size and mtime. `"gone"` when it is
   * absent, `"changed"` when it differs (then it is kept). Refuses links and non-files.
   */
  async unlinkFile(rel: string, expect?: { size: number; mtimeMs: number }): Promise<"deleted" | "gone" | "changed"> {
    try {
      return await this.inFolder(parentOf(rel), (folder) => folder.unlinkFile(baseOf(rel), rel, expect));
    } catch (err) {
      if (err instanceof LocalPathError || (err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      return "gone"; // its folder is gone
    }
  }
}

/**
 * A folder of a {@link WorkspaceFs} tree, checked and held open ({@link WorkspaceFs.holdFolder})
 * for the calls of one write, rename or delete that span `await`s. Where the kernel names open
 * descriptors, every name is reached through the folder's descriptor (`/proc/self/fd/N/<name>`,
 * which is `openat`): whatever happens to the folder's path meanwhile (a folder on the way swapped
 * for a symlink), nothing is created, renamed or removed anywhere but in the folder that was
 * checked, and {@link check} (before a file is given its name) refuses a folder moved since.
 * Elsewhere names are reached by path, and {@link check} checks the path again (the race that
 * leaves is the one `util/safe-fs.ts` describes).
 */
export class HeldFolder {
  #handle: FileHandle | undefined;
  #dir: string;
  #closed = false;

  constructor(
    /** The folder, relative to its tree. */
    readonly rel: string,
    /** How refusals name the tree. */
    private readonly label: string,
    handle: FileHandle | undefined,
    dir: string,
    /** Its real path when reached without a link. */
    private readonly expected: string,
    /** Checks its path now (throws the refusal naming a link on the way); its absolute path. */
    private readonly verify: () => Promise<string>,
  ) {
    this.#handle = handle;
    this.#dir = dir;
  }

  /** The path of `name` in this folder: through its descriptor while held, else by its path. Not after {@link close}. */
  path(name: string): string {
    // A closed descriptor's number may name another file by now.
    if (this.#closed) throw new Error(`HeldFolder.path: ${this.rel || "."} was let go`);
    return childPath(this.#dir, name);
  }

  /** Whether the folder is held by a descriptor (else it is used by its path, checked before each call). */
  get byDescriptor(): boolean {
    return this.#handle !== undefined;
  }

  /** Checks, now, that the folder is still where it was checked: moved or replaced, it is refused. */
  async check(): Promise<void> {
    if (this.#handle === undefined) {
      await this.verify();
      return;
    }
    if ((await realPathOf(this.#handle.fd)) === this.expected) return;
    // A link on the way is named as such; a folder gone from its name is a skip, not a failed run.
    await this.verify().catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    });
    throw movedError(this.rel, this.label);
  }

  /**
   * Creates new file `name` for writing (never over an existing name or through a link), with
   * `mode` less the umask, in the folder as {@link check}ed now. The caller closes it.
   */
  async createFile(name: string, mode = 0o666): Promise<FileHandle> {
    await this.check();
    try {
      return await fsp.open(this.path(name), NEW_FILE_FLAGS, mode);
    } catch (err) {
      if (!(await this.byPathAfterRefusal(err))) throw err;
      const handle = await fsp.open(this.path(name), NEW_FILE_FLAGS, mode);
      procNamesFiles = false;
      return handle;
    }
  }

  /**
   * Writes a stream into new file `name` here: the file is created first ({@link createFile}), then
   * `open()` gives the stream, read into it at once ({@link streamIntoFile}); then the file gets
   * permission bits `mode` exactly (past the umask) when given, is flushed (`fdatasync`: its bytes
   * and size are on disk before it is given a name), and gets time `mtimeNs` when given. Returns its
   * stats, read on its descriptor. The caller removes `name` on failure.
   */
  async writeNewFile(name: string, open: () => Readable | Promise<Readable>, options: NewFileOptions = {}): Promise<BigIntStats> {
    const out = await this.createFile(name);
    try {
      await streamIntoFile(await open(), out, options);
      if (options.mode !== undefined) await out.chmod(options.mode);
      await out.datasync();
      if (options.mtimeNs !== undefined) {
        const t = utimesArg(options.mtimeNs);
        await out.utimes(t, t);
      }
      return await out.stat({ bigint: true });
    } finally {
      await out.close();
    }
  }

  /**
   * Copies opened file `from` into new file `name` here ({@link copyToNewFile}, with its
   * `options`: times, flushed); returns the copy's stats.
   */
  async copyIn(from: OpenedLocalFile<FileHandle>, name: string, options: CopyToNewFileOptions = {}): Promise<BigIntStats> {
    const out = await this.createFile(name, from.mode);
    return copyIntoNewFile(from, out, this.path(name), options);
  }

  /**
   * Sub-folder `name` held open through this folder's descriptor (`O_NOFOLLOW`: never through a
   * link at the name), in the folder as {@link check}ed now; `verify` checks its path from the root
   * (for refusals). Undefined where this folder is not held by a descriptor the kernel names: the
   * caller then holds it from the root ({@link WorkspaceFs.holdFolder}).
   */
  async holdChild(name: string, verify: () => Promise<string>): Promise<HeldFolder | undefined> {
    if (this.#handle === undefined || procNamesFiles !== true) return undefined;
    await this.check();
    const handle = await fsp.open(this.path(name), HELD_FOLDER_FLAGS);
    return new HeldFolder(this.rel ? `${this.rel}/${name}` : name, this.label, handle, procLink(handle.fd), childPath(this.expected, name), verify);
  }

  /**
   * Gives sub-folder `name`'s owner read, write and search on it where it lacks one (a folder of
   * ours made read-only, or write-only, by the mode its copy took), while it is the folder `ident`
   * names: through a descriptor that needs no read permission (`O_PATH`), never through a link at
   * the name. Where this folder is not held by a descriptor the kernel names, it is left as it is
   * (a `chmod` by path follows a link put there).
   */
  async letOwnerChangeIn(name: string, ident: Ident & { mode: number }): Promise<void> {
    if ((ident.mode & 0o700) === 0o700 || this.#handle === undefined || procNamesFiles !== true) return;
    await this.check();
    const fd = fs.openSync(this.path(name), CHAIN_FLAGS);
    try {
      const st = fs.fstatSync(fd);
      if (sameIdent(st, ident)) fs.chmodSync(procLink(fd), (st.mode & 0o7777) | 0o700);
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * Makes folder `name` here, in the folder as {@link check}ed now (through its descriptor: never
   * through a link put at its path). Errors as `mkdir` gives them (`EEXIST` when the name is taken).
   */
  async makeFolder(name: string): Promise<void> {
    await this.check();
    await fsp.mkdir(this.path(name));
  }

  /**
   * Regular file `name` here as a {@link LocalSource} (read as {@link WorkspaceFs.source} reads):
   * opened through this folder, and refused unless it is really at this folder's checked place (a
   * folder moved since, or a symlink or FIFO at the name, is never read). Open it right away: the
   * path is good only while the folder is held.
   */
  source(name: string): LocalSource {
    const rel = this.rel ? `${this.rel}/${name}` : name;
    return sourceAt(this.path(name), rel, this.label, childPath(this.expected, name));
  }

  /** Renames `fromName` to `toName` here if `toName` is absent or a regular file (`rel` names it in refusals). */
  async replace(fromName: string, toName: string, rel: string): Promise<void> {
    await this.check();
    const to = this.path(toName);
    checkFileSlot(await lstatOrUndefined(to, rel, this.label), rel, this.label);
    await fsp.rename(this.path(fromName), to);
  }

  /**
   * Gives `fromName` the name `toName` only if nothing has that name: a file that appeared since the
   * listing, or one whose name differs only in case on a case-insensitive disk, is never replaced
   * (`link()` fails atomically on an existing name). `fromName` stays; the caller removes it.
   */
  async placeNew(fromName: string, toName: string, rel: string): Promise<void> {
    await this.check();
    if (!(await this.nameNoClobber(fromName, toName, rel))) {
      // (What holds the name, for the reason: a folder of it stays until the user removes it.)
      const st = await lstatOrUndefined(this.path(toName), rel, this.label).catch(() => undefined);
      if (st?.isDirectory()) throw new LocalPathError(rel, `a folder in ${this.label} has this file's name (remove or rename it for the file to come in): skipped`);
      throw new LocalPathError(rel, `${this.label} already has a file of this name (or of the same name in another case, on a case-insensitive disk): not replaced, skipped`);
    }
  }

  /**
   * Gives `fromName` the name `rel`'s, or the first free `numbered(rel, n)` (names in this folder),
   * never replacing anything. Returns the relative name used.
   */
  async linkNoClobber(fromName: string, rel: string, numbered: (rel: string, n: number) => string): Promise<string> {
    await this.check();
    for (let n = 0; n < 10_000; n++) {
      const candidate = n === 0 ? rel : numbered(rel, n);
      if (parentOf(candidate) !== this.rel) throw new Error(`linkNoClobber: ${candidate} is not in ${this.rel}`);
      if (await this.nameNoClobber(fromName, baseOf(candidate), candidate)) return candidate;
    }
    throw new LocalPathError(rel, `no free name for it in ${this.label}: skipped`);
  }

  /**
   * {@link nameFileNoClobber} of `fromName` to `toName` here (the caller {@link check}ed the
   * folder); false when that name is taken.
   */
  async nameNoClobber(fromName: string, toName: string, rel: string, renameFallback = true): Promise<boolean> {
    try {
      return (await nameFileNoClobber(this.path(fromName), this.path(toName), renameFallback)) !== "taken";
    } catch (err) {
      throw asNameErrorIn(err, rel, this.label);
    }
  }

  /** See {@link WorkspaceFs.unlinkFile}. */
  async unlinkFile(name: string, rel: string, expect?: { size: number; mtimeMs: number }): Promise<"deleted" | "gone" | "changed"> {
    // A folder moved since (renamed by the user) holds another path's file now: refused.
    await this.check();
    const abs = this.path(name);
    const st = await lstatOrUndefined(abs, rel, this.label);
    if (!st) return "gone";
    if (st.isSymbolicLink()) throw new LocalPathError(rel, "it is a symlink now; sync never deletes through or over one: skipped");
    if (!st.isFile()) throw new LocalPathError(rel, "it is not a regular file now: skipped");
    if (expect && (st.size !== expect.size || Math.trunc(st.mtimeMs) !== expect.mtimeMs)) return "changed";
    await fsp.unlink(abs);
    return "deleted";
  }

  /** Removes `name` here if it is there (a temp file of ours); never throws. */
  async removeQuietly(name: string): Promise<void> {
    if (this.#closed) return;
    await fsp.rm(this.path(name), { force: true }).catch(() => undefined);
  }

  /** Lets go of the folder. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#release();
  }

  async #release(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close();
  }

  /**
   * A call through the descriptor refused (a sandbox may forbid `/proc` paths): this folder is
   * reached by path from now on, checked first (and every folder held later, where that works).
   * True when it was that.
   */
  private async byPathAfterRefusal(err: unknown): Promise<boolean> {
    const code = (err as NodeJS.ErrnoException).code;
    const handle = this.#handle;
    if (handle === undefined || (code !== "EACCES" && code !== "EPERM")) return false;
    const heldStats = await handle.stat();
    // Unusable until its path is checked: the descriptor's number is free once closed.
    this.#closed = true;
    await this.#release();
    const abs = await this.verify();
    // Only the very folder that was held (see createFileSync).
    if (!sameFile(heldStats, await fsp.lstat(abs))) throw movedError(this.rel, this.label);
    this.#dir = abs;
    this.#closed = false;
    return true;
  }
}

/** Opens only a new file, never through a link at its name: `O_CREAT | O_EXCL | O_NOFOLLOW`. */
const NEW_FILE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | (fs.constants.O_NOFOLLOW ?? 0);

/** Whether `/proc/self/fd` names this process's open files (decided by the first folder held). */
let procNamesFiles: boolean | undefined;

/** How a folder is held open by {@link WorkspaceFs.folderSync}: never through a link at its name. */
const HELD_FOLDER_FLAGS = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | (fs.constants.O_NOFOLLOW ?? 0);

/** {@link realPathOfSync} of `fd`, which is closed when that throws. */
function realPathOrCloseSync(fd: number): string | undefined {
  try {
    return realPathOfSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/** Linux's `O_PATH` (Node has no constant for it): a descriptor that only names a folder, and needs no read permission. */
const O_PATH = process.platform === "linux" ? 0o10000000 : 0;

/** Flags of a folder on the way (see {@link WorkspaceFs.openDownSync}): never a link. */
const CHAIN_FLAGS = O_PATH | fs.constants.O_DIRECTORY | (fs.constants.O_NOFOLLOW ?? 0);

/** Folders {@link WorkspaceFs.folderSync} holds open at once: one for each half of a sync's plan. */
const HELD_FOLDERS = 2;

/** Answers of `link()` where the file system makes no hard link (here, or between these names). */
const NO_HARD_LINK = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "EMLINK", "EXDEV"]);

/**
 * Gives file `from` the name `to` too, never over anything there. A hard link (`link()` fails with
 * EEXIST atomically, unlike `rename()`, which replaces): `"linked"`, both names stay. Where the file
 * system makes none: a check, then a rename (racy only against another writer of the name),
 * `"renamed"`, `from` is gone; unless `renameFallback` is false (an atomic claim), when the link's
 * error is thrown. `"taken"` when `to` exists. Never copies: a rename's EXDEV is thrown as it comes.
 */
export async function nameFileNoClobber(from: string, to: string, renameFallback = true): Promise<"linked" | "renamed" | "taken"> {
  try {
    await fsp.link(from, to);
    return "linked";
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "";
    if (code === "EEXIST") return "taken";
    if (!renameFallback || !NO_HARD_LINK.has(code)) throw err;
  }
  const there = await fsp.lstat(to).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return false;
      throw err;
    },
  );
  if (there) return "taken";
  await fsp.rename(from, to);
  return "renamed";
}

/** Whether two stats are of one file (device and inode). */
function sameFile(a: { dev: number; ino: number }, b: { dev: number; ino: number }): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/** The refusal of a folder that is no longer where it was checked. */
function movedError(rel: string, label: string): LocalPathError {
  return new LocalPathError(rel || ".", `${rel || "it"} was moved in ${label} during the sync; nothing is written where it went: skipped`);
}

/** The name a file is written to must be absent or a regular file (never a link, folder or device). */
function checkFileSlot(st: { isSymbolicLink(): boolean; isDirectory(): boolean; isFile(): boolean } | undefined, rel: string, label: string): void {
  if (st?.isSymbolicLink()) throw new LocalPathError(rel, `a symlink in ${label} has this name; it is never replaced: skipped`);
  if (st && !st.isFile()) throw new LocalPathError(rel, st.isDirectory() ? `a folder in ${label} has this file's name: skipped` : `a special file in ${label} has this name: skipped`);
}

/** A file's identity: its device and inode. */
export interface Ident {
  dev: number;
  ino: number;
}

/** Whether `a` and `b` are the same file (device and inode). */
export function sameIdent(a: Ident, b: Ident): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

function parentOf(rel: string): string {
  const i = rel.lastIndexOf("/");
  return i < 0 ? "" : rel.slice(0, i);
}

function baseOf(rel: string): string {
  return rel.slice(rel.lastIndexOf("/") + 1);
}

async function lstatOrUndefined(abs: string, rel: string, label: string): Promise<import("node:fs").Stats | undefined> {
  try {
    return await fsp.lstat(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw asNameErrorIn(err, rel, label);
  }
}

/**
 * `lstat` of `abs`, `undefined` when nothing has that name. Absence is the usual answer (a new
 * file's name, checked before its rename): Node answers it without building an error, which cost
 * ~7 µs a file (a first sync of 40 000 files: 0.28 s).
 */
function lstatOrUndefinedSync(abs: string, rel: string, label: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(abs, { throwIfNoEntry: false });
  } catch (err) {
    throw asNameErrorIn(err, rel, label);
  }
}

/** The largest piece {@link copyToNewFile} reads and writes at once. */
const COPY_PIECE = 256 * 1024;

/** Options of {@link copyToNewFile}. */
export interface CopyToNewFileOptions {
  /** Times the copy gets, set on its descriptor (no link put at its name is followed). */
  times?: { atime: Date; mtime: Date };
  /** Its access and modification time in nanoseconds (as {@link times}; wins over it). */
  mtimeNs?: bigint;
  /**
   * Flushed to disk (`fsync`) before it is closed: the caller removes the source next. (The new
   * name itself is durable once its folder is flushed: {@link syncFolder}.)
   */
  durable?: boolean;
}

/**
 * Copies opened file `from` (from where it stands) into new file `dest`, never over an existing
 * name or through a link at it, with its permission bits (as `copyFile` keeps them). A partial copy
 * is removed; a file that was at `dest` already is never touched. Returns the copy's stats.
 */
export async function copyToNewFile(from: OpenedLocalFile<FileHandle>, dest: string, options: CopyToNewFileOptions = {}): Promise<BigIntStats> {
  return copyIntoNewFile(from, await fsp.open(dest, NEW_FILE_FLAGS, from.mode), dest, options);
}

/** {@link copyToNewFile} into `out`, just created at `dest` (closed here; removed on failure). */
async function copyIntoNewFile(from: OpenedLocalFile<FileHandle>, out: FileHandle, dest: string, options: CopyToNewFileOptions): Promise<BigIntStats> {
  try {
    await out.chmod(from.mode);
    // One buffer, each piece written before the next is read. (A pipeline into the handle's write
    // stream ends only when the stream closes the handle, and the handle is flushed first.)
    const buf = Buffer.allocUnsafe(Math.min(COPY_PIECE, Math.max(from.size + 1, 16 * 1024)));
    for (;;) {
      const { bytesRead } = await from.handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      for (let off = 0; off < bytesRead; ) off += (await out.write(buf, off, bytesRead - off)).bytesWritten;
    }
    if (options.mtimeNs !== undefined) {
      const t = utimesArg(options.mtimeNs);
      await out.utimes(t, t);
    } else if (options.times) await out.utimes(options.times.atime, options.times.mtime);
    if (options.durable) await out.sync();
    const st = await out.stat({ bigint: true });
    await out.close();
    return st;
  } catch (err) {
    await out.close().catch(() => undefined);
    await fsp.rm(dest, { force: true }).catch(() => undefined);
    throw err;
  }
}

/** Options of {@link HeldFolder.writeNewFile}. */
export interface NewFileOptions {
  /** Permission bits the file gets, whatever the umask (a local file's, as `copyFile` keeps them). */
  mode?: number;
  /** Its access and modification time in nanoseconds. */
  mtimeNs?: bigint;
  signal?: AbortSignal;
  /** Gets each written chunk's length. */
  onChunk?: (bytes: number) => void;
}

/**
 * Writes all of `source` into `out` (a file just created), each chunk written before the next is
 * taken (the source reads ahead up to its buffer meanwhile); `onChunk` gets each chunk's length.
 * Ends `source` on failure or abort.
 */
async function streamIntoFile(source: Readable, out: FileHandle, options: { signal?: AbortSignal; onChunk?: (bytes: number) => void } = {}): Promise<void> {
  await pipeline(
    source,
    async (chunks: AsyncIterable<Buffer | string>) => {
      for await (const piece of chunks) {
        // (A string chunk from an object-mode source: FileHandle.write would take `off` as a position.)
        const chunk = typeof piece === "string" ? Buffer.from(piece) : piece;
        for (let off = 0; off < chunk.length; ) off += (await out.write(chunk, off, chunk.length - off)).bytesWritten;
        options.onChunk?.(chunk.length);
      }
    },
    { signal: options.signal },
  );
}

/** Answers of a folder `fsync` on a file system that cannot flush folders (nothing more can be done there). */
const FOLDER_SYNC_UNSUPPORTED = new Set(["EINVAL", "ENOTSUP", "EOPNOTSUPP"]);

/**
 * Flushes folder `dir`'s entries to disk (`fsync` of the folder): names created or renamed in it
 * survive a crash from then on. Where the file system cannot flush a folder, nothing is done.
 */
export async function syncFolder(dir: string): Promise<void> {
  const handle = await fsp.open(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    await syncFolderHandle(handle);
  } finally {
    await handle.close();
  }
}

/** {@link syncFolder} of a folder open at `handle`. */
export async function syncFolderHandle(handle: FileHandle): Promise<void> {
  try {
    await handle.sync();
  } catch (err) {
    if (!FOLDER_SYNC_UNSUPPORTED.has((err as NodeJS.ErrnoException).code ?? "")) throw err;
  }
}

/** The check of every read: a regular file (a FIFO or device is never read, nor waited on). */
function regularOnly(rel: string, label: string): OpenCheck {
  return (st) => {
    if (!st.isFile()) throw new LocalPathError(rel, NOT_REGULAR_REASON(label, rel), undefined, "read");
  };
}

/** Where a file must really be, known when it is opened (a tree's real root is resolved on first use). */
export interface ExpectedPath {
  sync(): string;
  async(): Promise<string>;
}

/**
 * `abs` as a {@link LocalSource} that must really be at `expected` (see {@link WorkspaceFs.source}
 * for the checks). `rel` and `label` name it in refusals.
 */
export function sourceAt(abs: string, rel: string, label: string, expected: ExpectedPath | string): LocalSource {
  const regular = regularOnly(rel, label);
  const check =
    (want: string): OpenCheck =>
    (st, real) => {
      regular(st, real);
      if (real !== undefined) {
        if (real !== want) throw new LocalPathError(rel, READ_LINK_REASON(label, rel), undefined, "read");
        return;
      }
      // No /proc: right after the open, the parent must really be where expected and the name must
      // still be the file opened (the race that leaves is the one writes have).
      let parent: string | undefined;
      try {
        parent = fs.realpathSync.native(path.dirname(abs));
      } catch {
        parent = undefined;
      }
      const now = lstatOrUndefinedSync(abs, rel, label);
      if (parent !== path.dirname(want) || !now || now.isSymbolicLink() || now.dev !== st.dev || now.ino !== st.ino) {
        throw new LocalPathError(rel, READ_LINK_REASON(label, rel), undefined, "read");
      }
    };
  const want = (): string => (typeof expected === "string" ? expected : expected.sync());
  const wantAsync = async (): Promise<string> => (typeof expected === "string" ? expected : expected.async());
  const source = makeSource(abs, rel, label, () => check(want()), async () => check(await wantAsync()));
  // The same checks where the kernel names descriptors: the real path is all they compare.
  source.elsewhere = () => {
    if (!procNamesDescriptors()) return undefined;
    try {
      return { path: abs, real: want() };
    } catch {
      return undefined;
    }
  };
  return source;
}

/**
 * A {@link LocalSource} of `abs` opened with `checkSync()`'s (or `checkAsync()`'s) check; failures
 * become refusals naming `rel` in `label`. `follow`: through symlinks (see {@link openCheckedSync}).
 */
function makeSource(abs: string, rel: string, label: string, checkSync: () => OpenCheck, checkAsync: () => Promise<OpenCheck> = async () => checkSync(), follow = false): LocalSource {
  return {
    path: abs,
    openSync: () => {
      try {
        return openCheckedSync(abs, checkSync(), follow);
      } catch (err) {
        throw asReadErrorIn(err, rel, label);
      }
    },
    open: async () => {
      try {
        return await openChecked(abs, await checkAsync(), follow);
      } catch (err) {
        throw asReadErrorIn(err, rel, label);
      }
    },
  };
}

/** `abs` read through symlinks, as the user chose (`copySymlinks`): only a regular file, never a FIFO. */
function followingSource(abs: string, rel: string, label: string): LocalSource {
  const check = regularOnly(rel, label);
  return makeSource(abs, rel, label, () => check, undefined, true);
}

/** A read open's failure: a symlink at the name (`O_NOFOLLOW`) is a refusal like any other link. */
function asReadErrorIn(err: unknown, rel: string, label: string): unknown {
  if (err instanceof LocalPathError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ELOOP") return new LocalPathError(rel, READ_LINK_REASON(label, rel), err, "read");
  // A socket (or a device without a driver) where a file was listed.
  if (code === "ENXIO") return new LocalPathError(rel, NOT_REGULAR_REASON(label, rel), err, "read");
  // O_NONBLOCK: a file under another program's lease (Samba, NFS) is not waited for.
  if (code === "EAGAIN" || code === "EWOULDBLOCK") return new LocalPathError(rel, `${rel} in ${label} is held by another program (a lease) and cannot be read without waiting: skipped, tried again next run`, err, "read");
  return asNameErrorIn(err, rel, label, "read");
}

/**
 * `file` as a {@link LocalSource}: a {@link LocalSource} as it is; a path opened as given, where only
 * the name itself is checked (never a symlink, only a regular file): the caller vouches for the
 * folders on its way.
 */
export function localSourceOf(file: string | LocalSource): LocalSource {
  if (typeof file !== "string") return file;
  const rel = path.basename(file);
  const label = path.dirname(file);
  const check = regularOnly(rel, label);
  return makeSource(file, rel, label, () => check);
}

function asNameErrorIn(err: unknown, rel: string, label: string, refused: "written" | "read" = "written"): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOTDIR") return new LocalPathError(rel, `a file in ${label} has the name of a folder on this path: skipped`, err, refused);
  if (code === "ELOOP") return new LocalPathError(rel, SYMLINK_REASON(label, rel), err, refused);
  if (code === "ENAMETOOLONG") return new LocalPathError(rel, `name too long for the file system of ${label}: skipped`, err, refused);
  return err;
}
