/**
 * The dry-run report: what a plan would do, as the run's outcome and log lines. Pure.
 */
import type { ExecuteOutcome } from "./execute.js";
import type { LocalFile, RemoteFile, SyncAction } from "./types.js";
import { CompactStateFiles } from "./state-files.js";

/** The outcome a dry run reports for `actions`, and one log line per action that would change something. */
export function dryRunReport(
  actions: readonly SyncAction[],
  local: ReadonlyMap<string, LocalFile>,
  remote: ReadonlyMap<string, RemoteFile>,
  caseConflicts: readonly string[],
): { outcome: ExecuteOutcome; lines: string[] } {
  const outcome: ExecuteOutcome = { uploaded: [], downloaded: [], deleted: [], conflicts: [...caseConflicts], files: new CompactStateFiles(), skipped: [] };
  const lines: string[] = [];
  for (const a of actions) {
    const name = local.get(a.path)?.path ?? remote.get(a.path)?.path ?? a.path;
    if (a.kind === "upload") outcome.uploaded.push(name);
    else if (a.kind === "download") outcome.downloaded.push(name);
    else if (a.kind === "deleteLocal" || a.kind === "deleteRemote") outcome.deleted.push(name);
    else if (a.kind === "conflict") outcome.conflicts.push(name);
  }
  for (const a of actions) if (a.kind !== "same" && a.kind !== "skip") lines.push(`[workspace-sync] (dry run) would ${describeAction(a.kind)} ${a.path}`);
  return { outcome, lines };
}

function describeAction(kind: SyncAction["kind"]): string {
  switch (kind) {
    case "upload":
      return "upload";
    case "download":
      return "download";
    case "deleteLocal":
      return "delete in the workspace";
    case "deleteRemote":
      return "delete in the cloud";
    default:
      return "resolve the conflict on";
  }
}
