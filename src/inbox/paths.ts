/**
 * Path rules of the inbox helper: names in `_inbox` are plain basenames, the inbox is
 * `<workspace>/<localPath>/_inbox`, inside the workspace both lexically (path.relative) and after
 * resolving symbolic links (realpath). These are checks; every use is made through folders held
 * open (see `inbox-folder.ts`, `target.ts`).
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

/** Whether `p` is absolute on POSIX or on Windows. */
export function isAbsoluteAnywhere(p: string): boolean {
  return path.posix.isAbsolute(p) || path.win32.isAbsolute(p);
}

/** `realpath` of `p`; NOT_FOUND naming it as `what` when it is missing. */
export async function realpathOrThrow(p: string, what: string): Promise<string> {
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

/** Real path `real` (inside real workspace `wsReal`) as a `/`-separated path of the workspace (`""`: the workspace). */
export function relIn(wsReal: string, real: string): string {
  return path.relative(wsReal, real).split(path.sep).join("/");
}
