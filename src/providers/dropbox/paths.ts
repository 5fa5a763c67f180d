import { WorkspaceSyncError } from "../../errors.js";

/** Names Dropbox refuses or never syncs, lower-cased (https://help.dropbox.com/sync/ignored-files). */
export const DROPBOX_IGNORED_NAMES: readonly string[] = ["desktop.ini", "thumbs.db", ".ds_store", "icon\r", ".dropbox", ".dropbox.attr"];

/**
 * Turns a provider path (`a/b.txt`, `""` = root) into a Dropbox path (`/a/b.txt`, `""` = root).
 * Rejects `..`/`.` segments and empty segments with INVALID_PATH.
 */
export function toDropboxPath(path: string): string {
  const trimmed = path.replace(/^\/+|\/+$/g, "");
  if (trimmed === "") return "";
  for (const seg of trimmed.split("/")) {
    if (seg === "" || seg === "." || seg === "..") {
      throw new WorkspaceSyncError("INVALID_PATH", `Invalid path "${path}": use relative paths without empty, "." or ".." segments`, { path });
    }
  }
  return `/${trimmed}`;
}

/** The last segment of a provider path. */
export function baseName(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? path : path.slice(i + 1);
}

/** Throws INVALID_PATH when the file name is one Dropbox ignores, so a write never "succeeds" silently. */
export function assertWritableName(path: string): void {
  const name = baseName(path).toLowerCase();
  if (DROPBOX_IGNORED_NAMES.includes(name)) {
    throw new WorkspaceSyncError(
      "INVALID_PATH",
      `Dropbox does not store files named "${baseName(path)}" (${path}): exclude it from the sync or rename it`,
      { path },
    );
  }
}

/**
 * The path of `displayPath` (a Dropbox `path_display`) relative to the listed folder `dirDropbox`,
 * compared case-insensitively as Dropbox does.
 */
export function relativeTo(dirDropbox: string, displayPath: string): string | undefined {
  if (dirDropbox === "") return displayPath.replace(/^\//, "");
  const prefix = `${dirDropbox}/`;
  if (displayPath.length <= prefix.length) return undefined;
  if (displayPath.slice(0, prefix.length).toLowerCase() !== prefix.toLowerCase()) return undefined;
  return displayPath.slice(prefix.length);
}

/** JSON for the `Dropbox-API-Arg` header: non-ASCII escaped as \uXXXX as the API requires. */
export function headerSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Dropbox timestamp (`YYYY-MM-DDTHH:MM:SSZ`, whole seconds, UTC). */
export function dropboxTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}
