import type { files } from "dropbox";
import { isWorkspaceSyncError } from "../../errors.js";
import type { RemoteEntry } from "../types.js";
import { MAX_SERVER_BACKOFF_MS, type DropboxClient } from "./client.js";
import type { CursorStore, ListingState, SavedEntry } from "./cursor-store.js";
import { relativeTo } from "./paths.js";

type ListEntry = files.FileMetadataReference | files.FolderMetadataReference | files.DeletedMetadataReference;

/** Applies one page of `list_folder` / `continue` entries to a snapshot. Pure. */
export function applyListEntries(state: Record<string, SavedEntry>, dirDropbox: string, entries: readonly ListEntry[]): void {
  for (const e of entries) {
    const lower = (e.path_lower ?? "").toLowerCase();
    if (!lower) continue;
    if (e[".tag"] === "file") {
      const rel = relativeTo(dirDropbox, e.path_display ?? e.name);
      if (rel === undefined) continue;
      const saved: SavedEntry = { p: rel, s: e.size };
      if (e.client_modified) saved.m = e.client_modified;
      if (e.content_hash) saved.h = e.content_hash;
      if (e.rev) saved.r = e.rev;
      state[lower] = saved;
    } else if (e[".tag"] === "deleted") {
      delete state[lower];
      const prefix = `${lower}/`;
      for (const k of Object.keys(state)) if (k.startsWith(prefix)) delete state[k];
    }
    // Folders are not listed.
  }
}

/** A saved entry as a {@link RemoteEntry}. */
export function toRemoteEntry(e: SavedEntry): RemoteEntry {
  const out: RemoteEntry = { path: e.p, size: e.s };
  if (e.m) out.mtime = new Date(e.m);
  if (e.h) out.hash = e.h;
  if (e.r) out.revision = e.r;
  return out;
}

function causeSummary(err: unknown): string {
  const cause = (err as { cause?: { error?: { error_summary?: unknown } } } | undefined)?.cause;
  const s = cause?.error?.error_summary;
  return typeof s === "string" ? s : "";
}

/**
 * Lists `dirDropbox`, reusing the saved cursor when there is one: an unchanged folder then costs a
 * single `list_folder/continue` call. A `reset` (or an unusable cursor) falls back to a full listing.
 * Returns the merged snapshot after saving it; a missing folder lists as empty.
 */
export async function listWithCursor(
  client: DropboxClient,
  store: CursorStore,
  key: string,
  dirDropbox: string,
  path: string,
  recursive: boolean,
  signal?: AbortSignal,
): Promise<RemoteEntry[]> {
  let state: ListingState | undefined = await store.load(key);
  if (state) {
    try {
      state = await continueFrom(client, state, dirDropbox, path, signal);
    } catch (err) {
      const summary = causeSummary(err);
      if (isWorkspaceSyncError(err, "NOT_FOUND")) {
        await store.drop(key);
        return [];
      }
      const status = (err as { cause?: { status?: unknown } }).cause?.status;
      if (!/^reset/.test(summary) && status !== 400) throw err;
      client.logger.info(`dropbox: saved listing of ${path || "/"} is no longer valid (${summary || "bad cursor"}); listing in full`);
      state = undefined;
    }
  }
  if (!state) {
    try {
      state = await fullListing(client, dirDropbox, path, recursive, signal);
    } catch (err) {
      if (isWorkspaceSyncError(err, "NOT_FOUND")) {
        await store.drop(key);
        return [];
      }
      throw err;
    }
  }
  await store.save(key, state);
  return Object.values(state.entries).map(toRemoteEntry);
}

async function fullListing(client: DropboxClient, dirDropbox: string, path: string, recursive: boolean, signal?: AbortSignal): Promise<ListingState> {
  const entries: Record<string, SavedEntry> = {};
  let page = (
    await client.call("files/list_folder", path, (sdk) => sdk.filesListFolder({ path: dirDropbox, recursive, limit: 2000, include_deleted: false }), signal)
  ).result;
  applyListEntries(entries, dirDropbox, page.entries);
  while (page.has_more) {
    const cursor = page.cursor;
    page = (await client.call("files/list_folder/continue", path, (sdk) => sdk.filesListFolderContinue({ cursor }), signal)).result;
    applyListEntries(entries, dirDropbox, page.entries);
  }
  return { version: 1, cursor: page.cursor, entries };
}

async function continueFrom(client: DropboxClient, state: ListingState, dirDropbox: string, path: string, signal?: AbortSignal): Promise<ListingState> {
  const entries = { ...state.entries };
  let cursor = state.cursor;
  for (;;) {
    const c = cursor;
    const page = (await client.call("files/list_folder/continue", path, (sdk) => sdk.filesListFolderContinue({ cursor: c }), signal)).result;
    applyListEntries(entries, dirDropbox, page.entries);
    cursor = page.cursor;
    if (!page.has_more) break;
  }
  return { version: 1, cursor, entries };
}

/**
 * Waits (Dropbox `list_folder/longpoll`, up to `timeoutSec`) until something changes under the
 * listing saved as `key`. True when there are changes, or when there is no usable saved cursor
 * (list to find out); false when the timeout passed quietly. Honours Dropbox's `backoff`.
 */
export async function longpollChanges(client: DropboxClient, store: CursorStore, key: string, path: string, timeoutSec: number, signal?: AbortSignal): Promise<boolean> {
  const state = await store.load(key);
  if (!state) return true;
  const cursor = state.cursor;
  try {
    const res = (await client.call("files/list_folder/longpoll", path, (sdk) => sdk.filesListFolderLongpoll({ cursor, timeout: timeoutSec }), signal)).result;
    if (res.backoff) {
      // The server's hint, bounded: a hostile or broken answer must not park the caller for days.
      await client.pause(Math.min(res.backoff * 1000, MAX_SERVER_BACKOFF_MS), signal);
    }
    return res.changes;
  } catch (err) {
    if (/^reset/.test(causeSummary(err))) return true;
    throw err;
  }
}
