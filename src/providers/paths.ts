import { WorkspaceSyncError } from "../errors.js";
import { isPlainRelPath } from "../util/flat-join.js";

/**
 * Normalises a provider path: `/` separators, no leading/trailing or doubled slashes. `.` and `..`
 * components are refused so no caller can address anything outside a provider's root.
 */
export function normalizeRemotePath(p: string): string {
  // Already normal (every listed or planned name): kept as it is, with no array per call.
  if (!p.includes("\\") && isPlainRelPath(p)) return p;
  const parts = p.replace(/\\/g, "/").split("/").filter((s) => s !== "" && s !== ".");
  if (parts.includes("..")) {
    throw new WorkspaceSyncError("INVALID_PATH", `Path ${JSON.stringify(p)} contains "..": provider paths must stay inside the root`, { path: p });
  }
  return parts.join("/");
}

/** Joins provider path segments, skipping empty ones. */
export function joinRemotePath(...segments: string[]): string {
  return normalizeRemotePath(segments.filter(Boolean).join("/"));
}
