/**
 * The inbox as a folder of the workspace's tree: resolved once (a check), then held open, and
 * every read of it (its names, its entries' stats, a folder's listing) made through the held folder
 * and followed by a check that it is still where it was found: `_inbox` swapped for a symbolic
 * link, or moved away, meanwhile is refused, and nothing outside the workspace is ever read.
 */
import { promises as fsp } from "node:fs";
import { WorkspaceSyncError } from "../errors.js";
import { INBOX_DIR } from "../sync/index.js";
import { LocalPathError, WorkspaceFs, type HeldFolder } from "../util/safe-fs.js";
import { realInbox, realWorkspace, relIn, type InboxLocation } from "./paths.js";

/** The workspace as a tree, and where its inbox is. */
export interface WorkspaceInbox {
  /** The workspace's real path. */
  wsReal: string;
  /** The workspace as a tree that is never read or changed through a link, rooted at {@link wsReal}. */
  tree: WorkspaceFs;
  /** The inbox's real path; undefined when it does not exist yet. */
  inboxReal: string | undefined;
}

/** Resolves the workspace and its inbox (INVALID_PATH when the inbox resolves outside the workspace). */
export async function openWorkspaceInbox(loc: InboxLocation): Promise<WorkspaceInbox> {
  const wsReal = await realWorkspace(loc.workspaceDir);
  const inboxReal = await realInbox(loc, wsReal);
  return { wsReal, tree: await WorkspaceFs.open(wsReal), inboxReal };
}

/**
 * Runs `fn` on the inbox held open in the workspace's tree, checked from its root, and lets it go
 * after. When it is no longer where it was resolved, INVALID_PATH.
 */
export async function withInboxFolder<T>(ws: WorkspaceInbox, inboxReal: string, fn: (inbox: HeldFolder) => Promise<T>): Promise<T> {
  let inbox: HeldFolder;
  try {
    inbox = await ws.tree.holdFolder(relIn(ws.wsReal, inboxReal), false);
  } catch (err) {
    throw inboxChanged(err);
  }
  try {
    return await fn(inbox);
  } finally {
    await inbox.close();
  }
}

/** After reads through `folder` (the inbox or a folder of it): INVALID_PATH unless it is still where it was checked. */
export async function checkRead(folder: HeldFolder): Promise<void> {
  try {
    await folder.check();
  } catch (err) {
    throw inboxChanged(err);
  }
}

/** The names in `folder` (read through it, then checked), sorted. */
export async function readNames(folder: HeldFolder): Promise<string[]> {
  const names = await fsp.readdir(folder.path("."));
  await checkRead(folder);
  return names.sort();
}

/** A refusal of a folder of the inbox, as INVALID_PATH naming the inbox; any other error as it is. */
export function inboxChanged(err: unknown): unknown {
  if (!(err instanceof LocalPathError)) return err;
  return new WorkspaceSyncError("INVALID_PATH", `The inbox ${INBOX_DIR} changed while it was read (moved away, or a symbolic link took its place or a folder's in it): nothing is read through it; try again`, { path: INBOX_DIR, cause: err });
}
