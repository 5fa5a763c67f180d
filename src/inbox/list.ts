/**
 * `listInbox` and `peekInbox`: what arrived in `_inbox`, and the workspace folders files can be
 * moved to. Read-only; symbolic links are reported, never followed. Every folder is read through
 * itself held open in the workspace's tree, and checked after the read (see `inbox-folder.ts`):
 * a folder swapped for a symbolic link meanwhile is never read through it.
 */
import { promises as fsp } from "node:fs";
import type { Dirent, Stats } from "node:fs";
import { WorkspaceSyncError, toWorkspaceSyncError } from "../errors.js";
import { INBOX_DIR, OUTBOX_DIR } from "../sync/index.js";
import type { WorkspaceFs } from "../util/safe-fs.js";
import { checkRead, inboxChanged, openWorkspaceInbox, readNames, withInboxFolder } from "./inbox-folder.js";
import { assertSafeBasename, inboxPath, type InboxLocation } from "./paths.js";

/** Kind of an inbox entry. */
export type InboxEntryType = "file" | "dir" | "symlink" | "other";

/** One top-level entry of `_inbox`. */
export interface InboxEntry {
  name: string;
  type: InboxEntryType;
  /** Bytes for files (the link's own size for symlinks, 0 for folders). */
  size: number;
  /** Last modification, ISO 8601. */
  modified: string;
}

/** Options of {@link listInbox}. */
export interface ListInboxOptions extends InboxLocation {
  /** Deepest folder level listed in `workspaceDirectories` (default 3). */
  maxDepth?: number;
  /** Most folders listed in `workspaceDirectories` (default 500). */
  maxDirectories?: number;
}

/** Result of {@link listInbox}. */
export interface InboxListing {
  /** Absolute path of the inbox. */
  inboxDir: string;
  /** Top-level entries, sorted by name (empty when the inbox does not exist yet). */
  entries: InboxEntry[];
  /** Folders of the workspace (relative, `/`-separated, sorted) that can be move targets. */
  workspaceDirectories: string[];
  /** True when `workspaceDirectories` was cut at `maxDirectories`. */
  directoriesTruncated: boolean;
}

/** Folder names never offered as move targets. */
const SKIP_DIRS = new Set(["node_modules", INBOX_DIR, OUTBOX_DIR]);

function typeOf(st: Stats): InboxEntryType {
  if (st.isSymbolicLink()) return "symlink";
  if (st.isFile()) return "file";
  if (st.isDirectory()) return "dir";
  return "other";
}

function entryOf(name: string, st: Stats): InboxEntry {
  const type = typeOf(st);
  return { name, type, size: type === "dir" ? 0 : st.size, modified: st.mtime.toISOString() };
}

/** Lists `_inbox` and the workspace folders (up to `maxDepth` levels, skipping dot folders, node_modules, _inbox and _outbox). */
export async function listInbox(options: ListInboxOptions): Promise<InboxListing> {
  const ws = await openWorkspaceInbox(options);
  const inbox = ws.inboxReal;
  const entries: InboxEntry[] = [];
  if (inbox) {
    await withInboxFolder(ws, inbox, async (folder) => {
      for (const name of await readNames(folder)) {
        try {
          entries.push(entryOf(name, await fsp.lstat(folder.path(name))));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw toWorkspaceSyncError(err);
        }
      }
      // The stats were the inbox's, where it was found.
      await checkRead(folder);
    });
  }
  const { dirs, truncated } = await workspaceDirectories(ws.tree, options.maxDepth ?? 3, options.maxDirectories ?? 500);
  return { inboxDir: inbox ?? inboxPath(options), entries, workspaceDirectories: dirs, directoriesTruncated: truncated };
}

/** The entries of folder `rel` of `tree`, read through it held open, then checked (a refusal throws). */
async function readFolder(tree: WorkspaceFs, rel: string): Promise<Dirent[]> {
  return tree.inFolder(rel, async (folder) => {
    const items = await fsp.readdir(folder.path("."), { withFileTypes: true });
    await folder.check();
    return items;
  });
}

async function workspaceDirectories(tree: WorkspaceFs, maxDepth: number, limit: number): Promise<{ dirs: string[]; truncated: boolean }> {
  const dirs: string[] = [];
  let truncated = false;
  // Breadth-first so a cut keeps the shallow folders.
  let level: string[] = [""];
  for (let depth = 1; depth <= maxDepth && level.length > 0 && !truncated; depth++) {
    const next: string[] = [];
    for (const rel of level) {
      let items;
      try {
        items = await readFolder(tree, rel);
      } catch {
        continue; // unreadable, vanished or swapped for a link: not a target
      }
      for (const d of items) {
        if (!d.isDirectory() || d.name.startsWith(".") || SKIP_DIRS.has(d.name)) continue;
        const child = rel ? `${rel}/${d.name}` : d.name;
        if (dirs.length >= limit) {
          truncated = true;
          break;
        }
        dirs.push(child);
        next.push(child);
      }
      if (truncated) break;
    }
    level = next;
  }
  return { dirs: dirs.sort(), truncated };
}

/** Result of {@link peekInbox}. */
export type InboxPeek =
  | { type: "file"; name: string; size: number; modified: string }
  | { type: "dir"; name: string; modified: string; entries: string[]; more: number }
  | { type: "symlink"; name: string; target: string; modified: string }
  | { type: "other"; name: string; modified: string };

/** Most names shown when peeking into a folder. */
const PEEK_MAX_ENTRIES = 50;

/** Details of one inbox entry; `name` must be a plain basename (INVALID_PATH otherwise, NOT_FOUND when absent). */
export async function peekInbox(options: InboxLocation & { name: string }): Promise<InboxPeek> {
  const { name } = options;
  assertSafeBasename(name, "inbox entry name");
  const ws = await openWorkspaceInbox(options);
  const notFound = () => new WorkspaceSyncError("NOT_FOUND", `${JSON.stringify(name)} is not in ${INBOX_DIR}: list the inbox to see what arrived`, { path: name });
  if (!ws.inboxReal) throw notFound();
  return withInboxFolder(ws, ws.inboxReal, async (inbox) => {
    const full = inbox.path(name);
    let st: Stats;
    try {
      st = await fsp.lstat(full);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") throw notFound();
      throw toWorkspaceSyncError(err);
    }
    // What was looked at is the inbox's, where it was found.
    await checkRead(inbox);
    const modified = st.mtime.toISOString();
    const type = typeOf(st);
    if (type === "file") return { type, name, size: st.size, modified };
    if (type === "symlink") {
      const target = await fsp.readlink(full);
      await checkRead(inbox);
      return { type, name, target, modified };
    }
    if (type === "dir") {
      // The folder held open itself, checked from the workspace's root (a swap on its way is refused).
      const listed = await readFolder(ws.tree, inbox.rel ? `${inbox.rel}/${name}` : name).catch((err: unknown) => {
        throw inboxChanged(err);
      });
      const items = listed.map((d) => (d.isDirectory() ? `${d.name}/` : d.name)).sort();
      return { type, name, modified, entries: items.slice(0, PEEK_MAX_ENTRIES), more: Math.max(0, items.length - PEEK_MAX_ENTRIES) };
    }
    return { type: "other", name, modified };
  });
}
