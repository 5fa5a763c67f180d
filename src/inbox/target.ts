/**
 * The folder an inbox move goes into: checked, made when missing one level at a time through its
 * parent held open (never a recursive `mkdir` by path, which would follow a folder swapped for a
 * symbolic link and make folders outside), and held open for the move.
 */
import { promises as fsp } from "node:fs";
import path from "node:path";
import { WorkspaceSyncError, toWorkspaceSyncError } from "../errors.js";
import { isInside } from "../util/inside.js";
import { LocalPathError, sameIdent, WorkspaceFs, type HeldFolder, type Ident } from "../util/safe-fs.js";
import { checkFolders } from "./places.js";
import { isAbsoluteAnywhere, realpathOrThrow, relIn } from "./paths.js";

/** A resolved move target. */
export interface ResolvedTarget {
  /** Real absolute path of the target folder (created when missing). */
  abs: string;
  /** Path relative to the workspace, `/`-separated (`"."` for the workspace itself). */
  rel: string;
}

/** A move target held open. */
export interface HeldTarget {
  /** The folder, held open in the workspace's tree (the caller closes it). */
  folder: HeldFolder;
  /** Its path relative to the workspace, `/`-separated (`"."` for the workspace itself). */
  rel: string;
}

/** The target's folders changed while they were made (a valid target, not an invalid one). */
function targetChanged(target: string, cause: unknown): WorkspaceSyncError {
  return new WorkspaceSyncError("INVALID_PATH", `The target ${JSON.stringify(target)} changed while its folders were made (a folder moved away, or a symbolic link took its place): nothing was moved; try again`, { path: target, cause });
}

function invalidTarget(target: string, why: string, cause?: unknown): WorkspaceSyncError {
  return new WorkspaceSyncError("INVALID_PATH", `Invalid target ${JSON.stringify(target)}: ${why}`, { path: target, cause });
}

/**
 * Checks move target `target` and holds it open in `tree` (the workspace, rooted at its real path
 * `wsReal`), made first when missing. It must be relative, stay inside the workspace lexically and
 * after resolving symbolic links (a link to a folder inside the workspace is taken as that folder),
 * must not be inside the inbox, and must be a folder. Missing folders are made one at a time, each
 * in its parent held open and checked right before (see {@link HeldFolder.makeFolder}), then held
 * themselves, checked from the workspace's root. Throws INVALID_PATH.
 */
export async function holdMoveTarget(tree: WorkspaceFs, target: unknown, wsReal: string, inboxReal: string | undefined): Promise<HeldTarget> {
  if (typeof target !== "string" || target.trim() === "") {
    throw new WorkspaceSyncError("INVALID_PATH", 'A target folder is required: name a folder inside the workspace, e.g. "docs/reports"');
  }
  if (target.includes("\0")) throw invalidTarget(target, "it contains a NUL character");
  if (isAbsoluteAnywhere(target)) throw invalidTarget(target, "it must be relative to the workspace, not an absolute path (e.g. \"docs/reports\")");
  const lexical = path.resolve(wsReal, target.replace(/\\/g, "/"));
  if (!isInside(wsReal, lexical)) throw invalidTarget(target, "it leads outside the workspace; use a folder inside it");

  // The deepest folder of the target that exists, resolved (a check; every use below is held).
  let probe = lexical;
  for (;;) {
    try {
      await fsp.lstat(probe);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw toWorkspaceSyncError(err);
      probe = path.dirname(probe);
    }
  }
  const probeReal = await realpathOrThrow(probe, "Target folder");
  if (!isInside(wsReal, probeReal)) throw invalidTarget(target, "it leads outside the workspace through a symbolic link");
  if (inboxReal && isInside(inboxReal, probeReal)) throw invalidTarget(target, "it is inside the inbox; choose a folder outside _inbox");
  if (!(await fsp.stat(probeReal)).isDirectory()) throw invalidTarget(target, "a file with that name exists; choose a folder");

  const missing = path.relative(probe, lexical).split(path.sep).filter(Boolean);
  let folder = await holdOrRefuse(tree, relIn(wsReal, probeReal), target);
  try {
    for (const name of missing) {
      /** The folder this move made (device and inode), if it made one. */
      let made: Ident | undefined;
      try {
        await folder.makeFolder(name);
        made = await fsp.lstat(folder.path(name));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOTDIR") throw invalidTarget(target, "a file with that name exists; choose a folder", err);
        // Refused as moved, or its parent removed since its check (ENOENT, through its descriptor).
        if (err instanceof LocalPathError || code === "ENOENT") throw targetChanged(target, err);
        if (code !== "EEXIST") throw err;
      }
      // Made where its parent was checked: the parent is still there. Else it was made in a
      // folder moved away (or one a link took the place of): taken back there if this move made
      // it and it is still that folder (empty, just made; rmdir removes nothing else), and the
      // move does not start.
      try {
        await checkFolders(folder);
      } catch (err) {
        if (made) await takeBack(folder, name, made);
        throw targetChanged(target, err);
      }
      const child = await holdOrRefuse(tree, folder.rel ? `${folder.rel}/${name}` : name, target);
      await folder.close();
      folder = child;
    }
  } catch (err) {
    await folder.close();
    throw err instanceof LocalPathError ? invalidTarget(target, err.reason, err) : toWorkspaceSyncError(err);
  }
  return { folder, rel: folder.rel === "" ? "." : folder.rel };
}

/** Removes empty folder `name` of `folder` while it is the one this move made (`made`); never throws. */
async function takeBack(folder: HeldFolder, name: string, made: Ident): Promise<void> {
  const now = await fsp.lstat(folder.path(name)).catch(() => undefined);
  if (now && sameIdent(now, made)) await fsp.rmdir(folder.path(name)).catch(() => undefined);
}

/** `tree.holdFolder(rel)` of an existing folder; a refusal, or a file at its name, as INVALID_PATH for `target`. */
async function holdOrRefuse(tree: WorkspaceFs, rel: string, target: string): Promise<HeldFolder> {
  try {
    return await tree.holdFolder(rel, false);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOTDIR") throw invalidTarget(target, "a file with that name exists; choose a folder", err);
    if (err instanceof LocalPathError) throw invalidTarget(target, err.reason, err);
    throw toWorkspaceSyncError(err);
  }
}

/**
 * Checks a move target and creates it, as {@link holdMoveTarget} does, and lets it go. The move
 * itself holds it instead ({@link holdMoveTarget}): a path is good only until the next swap.
 */
export async function resolveMoveTarget(target: unknown, wsReal: string, inboxReal: string | undefined): Promise<ResolvedTarget> {
  const held = await holdMoveTarget(await WorkspaceFs.open(wsReal), target, wsReal, inboxReal);
  await held.folder.close();
  return { abs: held.rel === "." ? wsReal : path.join(wsReal, ...held.rel.split("/")), rel: held.rel };
}
