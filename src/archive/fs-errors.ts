/**
 * Local file-system errors met while extracting, as typed errors that name the archive entry and
 * what to do (rather than `PROVIDER_ERROR` with the system's message). Pure.
 */
import path from "node:path";
import { WorkspaceSyncError, errorMessage, isWorkspaceSyncError, toWorkspaceSyncError } from "../errors.js";
import { printableName } from "../util/printable.js";

/**
 * `err` (thrown while extracting `entryName` into `root`) as a {@link WorkspaceSyncError}. The
 * entry is the one at the error's path when that lies inside `root` (a file written on the
 * small-file thread fails after later entries were read), else `entryName`. Anything but a system
 * call's error (typed errors, the archive stream's own failures, which the reader classifies) is
 * returned unchanged.
 */
export function extractionFsError(err: unknown, root: string, entryName: string): unknown {
  if (isWorkspaceSyncError(err)) return err;
  const e = err as NodeJS.ErrnoException | undefined;
  const code = e?.code;
  if (typeof code !== "string" || typeof e?.syscall !== "string") return err;
  const rel = typeof e?.path === "string" ? path.relative(root, e.path) : "";
  const entry = printableName(rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel.split(path.sep).join("/") : entryName);
  const what = `Could not restore archive entry ${JSON.stringify(entry)} (${code})`;
  const options = { path: entry, cause: err };
  switch (code) {
    case "ENAMETOOLONG":
      return new WorkspaceSyncError("INVALID_PATH", `${what}: its name is too long for the file system of the restore folder: restore to a folder with a shorter path, or extract this snapshot with GNU tar on a file system that allows the name`, options);
    case "ELOOP":
    case "EISDIR":
    case "ENOTDIR":
    case "EEXIST":
      return new WorkspaceSyncError("UNSAFE_ARCHIVE_ENTRY", `${what}: something else is at its path (a link or folder the restore did not create there), and nothing is written through it: restore into a new folder that no other program writes to`, options);
    case "EMFILE":
    case "ENFILE":
      return new WorkspaceSyncError("INTERNAL_ERROR", `${what}: too many open files: raise the open-file limit (ulimit -n) or close other programs, then retry`, { ...options, retryable: true });
    case "ENOSPC":
    case "EDQUOT":
      return new WorkspaceSyncError("INSUFFICIENT_SPACE", `${what}: no space left (or quota reached) in the restore folder: free disk space or restore to another folder`, options);
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return new WorkspaceSyncError("ACCESS_DENIED", `${what}: the restore folder is not writable: check its permissions, or restore to another folder`, options);
    default:
      return new WorkspaceSyncError(toWorkspaceSyncError(err).code, `${what}: ${errorMessage(err)}`, options);
  }
}
