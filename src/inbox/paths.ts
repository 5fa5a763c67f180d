/**
 * Path rules of the inbox helper: names in `_inbox` are plain basenames, the inbox is
 * `<workspace>/<localPath>/_inbox`, and a move target is a folder inside the workspace, checked
 * both lexically (path.relative) and after resolving symbolic links (realpath).
 */
import { promises as fsp } from "node:fs";
import path from "node:path";
import { WorkspaceSyncError, toWorkspaceSyncError } from "../errors.js";
import { INBOX_DIR } from "../sync/index.js";
import { isInside } from "../util/inside.js";

/** Where the inbox is: the workspace plus the sync `localPath`. */
export interface InboxLocation {
  /** The agent workspace. */
  workspaceDir: string;
  /** The sync `localPath` (relative to the workspace; default `""`, the workspace root). */
  localPath?: string;
}

/** True when `name` is a plain file name: no separators, not `.`/`..`, no NUL, not empty. */
export function isSafeBasename(name: unknown): name is string {
  return (
    typeof name === "string" &&
    name.length > 0 &&
    name.length <= 255 &&
    name !== "." &&
    name !== ".." &&
    !name.includes("/") &&
    !name.includes("\\") &&
    !name.includes("\0")
  );
}

/** Throws INVALID_PATH unless `name` is a plain file name. */
export function assertSafeBasename(name: unknown, what = "name"): asserts name is string {
  if (!isSafeBasename(name)) {
    throw new WorkspaceSyncError("INVALID_PATH", `Invalid ${what} ${JSON.stringify(name)}: use a plain file name from the inbox listing (no "/", "\\" or "..")`, {
      path: typeof name === "string" ? name : undefined,
    });
  }
}

function isAbsoluteAnywhere(p: string): boolean {
  return path.posix.isAbsolute(p) || path.win32.isAbsolute(p);
}

async function realpathOrThrow(p: string, what: string): Promise<string> {
  try {
    return await fsp.realpath(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new WorkspaceSyncError("NOT_FOUND", `${what} not found: ${p}`, { path: p, cause: err });
    }
    throw toWorkspaceSyncError(err);
  }
}

/** The real (symlink-free) workspace folder. */
export async function realWorkspace(workspaceDir: string): Promise<string> {
  return realpathOrThrow(path.resolve(workspaceDir), "Workspace folder");
}

/**
 * Absolute path of the inbox, lexically inside the workspace. Throws INVALID_PATH for an
 * absolute `localPath` or one that leads outside the workspace.
 */
export function inboxPath(loc: InboxLocation): string {
  const localPath = loc.localPath ?? "";
  if (isAbsoluteAnywhere(localPath)) {
    throw new WorkspaceSyncError("INVALID_PATH", `localPath must be relative to the workspace, got absolute path: ${JSON.stringify(localPath)}`, { path: localPath });
  }
  const ws = path.resolve(loc.workspaceDir);
  const local = path.resolve(ws, localPath);
  if (!isInside(ws, local)) {
    throw new WorkspaceSyncError("INVALID_PATH", `localPath ${JSON.stringify(localPath)} leads outside the workspace: use a subfolder such as "shared"`, { path: localPath });
  }
  return path.join(local, INBOX_DIR);
}

/**
 * The inbox's real path, or undefined when it does not exist yet. Throws INVALID_PATH when it
 * resolves (through a symbolic link) outside the workspace.
 */
export async function realInbox(loc: InboxLocation, wsReal: string): Promise<string | undefined> {
  const lexical = inboxPath(loc);
  let real: string;
  try {
    real = await fsp.realpath(lexical);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw toWorkspaceSyncError(err);
  }
  if (!isInside(wsReal, real)) {
    throw new WorkspaceSyncError("INVALID_PATH", `The inbox ${lexical} resolves outside the workspace (${real}): replace the symbolic link with a folder`, { path: lexical });
  }
  return real;
}

/** A resolved move target. */
export interface ResolvedTarget {
  /** Real absolute path of the target folder (created when missing). */
  abs: string;
  /** Path relative to the workspace, `/`-separated (`"."` for the workspace itself). */
  rel: string;
}

function invalidTarget(target: string, why: string): WorkspaceSyncError {
  return new WorkspaceSyncError("INVALID_PATH", `Invalid target ${JSON.stringify(target)}: ${why}`, { path: target });
}

/**
 * Checks a move target and creates it. It must be relative, stay inside the workspace lexically
 * and after resolving symbolic links (the deepest existing ancestor is checked before anything is
 * created, the final folder again after), must not be inside the inbox, and must be a folder.
 */
export async function resolveMoveTarget(target: unknown, wsReal: string, inboxReal: string | undefined): Promise<ResolvedTarget> {
  if (typeof target !== "string" || target.trim() === "") {
    throw new WorkspaceSyncError("INVALID_PATH", 'A target folder is required: name a folder inside the workspace, e.g. "docs/reports"');
  }
  if (target.includes("\0")) throw invalidTarget(target, "it contains a NUL character");
  if (isAbsoluteAnywhere(target)) throw invalidTarget(target, "it must be relative to the workspace, not an absolute path (e.g. \"docs/reports\")");
  const lexical = path.resolve(wsReal, target.replace(/\\/g, "/"));
  if (!isInside(wsReal, lexical)) throw invalidTarget(target, "it leads outside the workspace; use a folder inside it");

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

  await fsp.mkdir(lexical, { recursive: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "EEXIST" || err.code === "ENOTDIR") throw invalidTarget(target, "a file with that name exists; choose a folder");
    throw toWorkspaceSyncError(err);
  });
  const real = await realpathOrThrow(lexical, "Target folder");
  if (!isInside(wsReal, real)) throw invalidTarget(target, "it leads outside the workspace through a symbolic link");
  if (inboxReal && isInside(inboxReal, real)) throw invalidTarget(target, "it is inside the inbox; choose a folder outside _inbox");
  if (!(await fsp.stat(real)).isDirectory()) throw invalidTarget(target, "it is a file, not a folder");
  const rel = path.relative(wsReal, real).split(path.sep).join("/");
  return { abs: real, rel: rel === "" ? "." : rel };
}
