/**
 * Safety rules for archive entry names and link targets on extraction. Pure: the extractor applies
 * them before touching the disk.
 */
import path from "node:path";
import { WorkspaceSyncError } from "../errors.js";

/** The `UNSAFE_ARCHIVE_ENTRY` error for `entryName`. */
export function unsafeEntry(entryName: string, why: string): WorkspaceSyncError {
  return new WorkspaceSyncError(
    "UNSAFE_ARCHIVE_ENTRY",
    `Refused archive entry ${JSON.stringify(entryName)}: ${why}. The snapshot was not made by workspace-sync or was tampered with; nothing was written outside the restore folder`,
    { path: entryName },
  );
}

function components(name: string): string[] {
  return name.split(process.platform === "win32" ? /[\\/]/ : "/");
}

/**
 * Normalises an entry name to a relative `/`-separated path inside the target (`./a//b/` → `a/b`).
 * Returns `""` for the archive root (`./`). Throws `UNSAFE_ARCHIVE_ENTRY` for absolute names,
 * `..` components and NUL bytes.
 */
export function safeEntryName(name: string): string {
  if (name.includes("\0")) throw unsafeEntry(name, "the name contains a NUL byte");
  if (name.startsWith("/") || /^[A-Za-z]:/.test(name) || (process.platform === "win32" && name.startsWith("\\"))) {
    throw unsafeEntry(name, "absolute path");
  }
  const parts = components(name).filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw unsafeEntry(name, "the path contains a '..' component");
  return parts.join("/");
}

/**
 * Whether symlink `entryName → linkname` points inside the extraction root. `rootDir` is the real
 * path of the root, used for absolute targets. Relative targets are resolved against the link's
 * folder textually.
 */
export function symlinkStaysInside(entryName: string, linkname: string, rootDir: string): boolean {
  if (linkname === "" || linkname.includes("\0")) return false;
  if (path.isAbsolute(linkname)) {
    const rel = path.relative(rootDir, linkname);
    return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
  }
  const joined = path.posix.normalize(path.posix.join(path.posix.dirname(entryName), process.platform === "win32" ? linkname.replace(/\\/g, "/") : linkname));
  return joined !== ".." && !joined.startsWith("../") && !path.posix.isAbsolute(joined);
}
