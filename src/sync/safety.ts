/**
 * Safety checks run between planning and executing. A run that fails one aborts before changing
 * anything, with a `SYNC_SAFETY_ABORT` error that says why and how to proceed.
 */
import { WorkspaceSyncError } from "../errors.js";
import type { SyncAction } from "./types.js";

/** Inputs of {@link checkSafety}. */
export interface SafetyInput {
  actions: readonly SyncAction[];
  /** Files in scope on each side (after filters). */
  localCount: number;
  remoteCount: number;
  /** Files the state says each side held at the last agreement (0 without state). */
  stateCount: number;
  /** Percentage of either side's files a run may delete. */
  maxDelete: number;
  /** For messages. */
  workspace: string;
  remote: string;
  statePath: string;
}

/** Returns the abort error, or `undefined` when the plan is safe to run. */
export function checkSafety(input: SafetyInput): WorkspaceSyncError | undefined {
  if (input.stateCount > 0) {
    if (input.localCount === 0) {
      return new WorkspaceSyncError(
        "SYNC_SAFETY_ABORT",
        `Sync aborted: the workspace ${input.workspace} lists no files, but ${input.stateCount} were there at the last sync. ` +
          `If a disk is not mounted or localPath is wrong, fix that; if the workspace really is empty on purpose, delete ${input.statePath} and run again.`,
        { path: input.workspace },
      );
    }
    if (input.remoteCount === 0) {
      return new WorkspaceSyncError(
        "SYNC_SAFETY_ABORT",
        `Sync aborted: the cloud folder ${input.remote} lists no files, but ${input.stateCount} were there at the last sync. ` +
          `Check remotePath and the provider settings; if the cloud folder really is empty on purpose, delete ${input.statePath} and run again.`,
        { path: input.remote },
      );
    }
  }
  let delLocal = 0;
  let delRemote = 0;
  for (const a of input.actions) {
    if (a.kind === "deleteLocal") delLocal++;
    else if (a.kind === "deleteRemote") delRemote++;
  }
  const over = (n: number, total: number): boolean => n > 0 && (n * 100) / Math.max(total, 1) > input.maxDelete;
  if (over(delLocal, input.localCount)) {
    return new WorkspaceSyncError(
      "SYNC_SAFETY_ABORT",
      `Sync aborted before deleting anything: it would delete ${delLocal} of ${input.localCount} files in the workspace ${input.workspace}, ` +
        `more than maxDelete (${input.maxDelete}%). If those deletions in the cloud were intended, raise "maxDelete" for one run.`,
      { path: input.workspace },
    );
  }
  if (over(delRemote, input.remoteCount)) {
    return new WorkspaceSyncError(
      "SYNC_SAFETY_ABORT",
      `Sync aborted before deleting anything: it would delete ${delRemote} of ${input.remoteCount} files in the cloud folder ${input.remote}, ` +
        `more than maxDelete (${input.maxDelete}%). If those deletions in the workspace were intended, raise "maxDelete" for one run.`,
      { path: input.remote },
    );
  }
  return undefined;
}
