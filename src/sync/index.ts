/**
 * Folder sync without rclone: `mailbox`, `mirror` (with ingest) and `bisync` over any
 * {@link import("../providers/types.js").StorageProvider}.
 *
 * Layout (one job per file): `listing` (both sides), `scope` (names out of scope on both sides),
 * `deltas` (change tests), `compare` (content comparison), `plan` (pure planner),
 * `ingest` (mirror ingest planner) and `ingest-run` (its execution), `safety` (maxDelete /
 * empty-side checks), `execute` (transfers and deletions), `transfer` (one file up or down),
 * `mailbox` (drain, notification), `filters`, `state` (atomic state store), `state-files` (the
 * state as a run holds it, compactly), `lock` (in-process +
 * lock file), `run` (one run: lock, timeout, dispatch), `run-context` (what a run carries, its
 * shared edges), `prepare` (state and listings), `reconcile` (compare, plan, safety, execute),
 * `dry-run` (the dry-run report), `modes` (the three mode runners), `run-config` (`runSync` from
 * config).
 *
 * Choices made here (see also README "Choices and known limits"):
 * - Content equality when both sides changed (or without state): the provider's hash via
 *   `hashLocalFile` when the listing has one; otherwise both copies are streamed through SHA-256 when
 *   the file is at most 8 MiB; larger files with no hash count as different (a conflict: both kept).
 * - `newer` conflicts: a tie or an unknown cloud mtime goes to the workspace copy. The loser is kept
 *   on both sides as `<name>.conflict` (`.conflict1`, … when taken), spelled as in the workspace.
 *   Where listings give the upload time (S3), each conflicting object is stat'ed and its stored
 *   source mtime (this tool's and rclone's `mtime` metadata) decides instead.
 * - Workspace names one cloud name cannot hold (`code/a.txt` and `CODE/a.txt` on Dropbox; a file
 *   `Notes` beside a folder `notes/`): the name synced before (it matches the state, else the cloud
 *   spelling, else the first by name) keeps syncing; the others are skipped with a warning and
 *   listed in `conflicts`; their cloud counterpart is never overwritten. A new cloud file lands in
 *   the workspace folder that already exists under another case or Unicode spelling.
 * - mailbox/mirror push: a tracked file deleted locally is deleted in the cloud only if the cloud
 *   copy is unchanged since it was pushed; a cloud copy edited since is left alone (and forgotten).
 * - Mirror ingest never overwrites (a different local file makes the new one `name (1).ext`) and
 *   never re-adds a file the user deleted locally, until the cloud copy changes.
 * - A mode change, unreadable state or state for another folder is treated as a first run (merge,
 *   no deletions). The in-process lock fails fast with `LOCKED` instead of waiting.
 * - Failures come back as `{ ok: false, error: string, code }` (as the backup API).
 * - Workspace symlinks: every local write, rename and delete goes through
 *   `util/safe-fs.ts`, which checks the real parent chain right before the call; with or without
 *   `copySymlinks`, nothing is ever written or deleted through a link (with it, linked folders are
 *   read and uploaded only). A cloud file under a workspace symlink is skipped with a reason, gets
 *   no state entry and is never deleted from the cloud because of that (`scope`).
 * - Temp files are ours only with this install's token in the name (`util/temp-names.ts`);
 *   `.ws-sync-draft.tmp` is a user file. Our leftovers idle for an hour are removed after a
 *   successful run (workspace downloads; the provider's visible upload temps). S3 multipart uploads
 *   and Dropbox sessions carry no marker of ours, so sync leaves them to the backend's expiry.
 * - Names the workspace cannot hold (a cloud file beside a folder of the same name, parts over 255
 *   bytes, `..`, backslashes, NUL) are skipped with a reason and kept on both sides; any other
 *   per-file name error at execution skips that file only. Control characters are legal here and sync.
 */
export { runSync, type RunSyncOptions } from "./run-config.js";
export { runSyncWithProvider, MODE_REQUIRED_MESSAGE, type RunSyncWithProviderOptions } from "./run.js";
export { planSync, conflictName, conflictWinner, contentCheckCandidates, type PlanOptions, type SyncPlan } from "./plan.js";
export { planIngest, numberedName, type IngestStep } from "./ingest.js";
export { checkSafety, type SafetyInput } from "./safety.js";
export { createFilter, type SyncFilter } from "./filters.js";
export { acquireLock, type SyncLock, type LockInfo } from "./lock.js";
export { loadState, saveState, statePathFor, type StateIdentity } from "./state.js";
export type { StateFiles } from "./state-files.js";
export { listLocal, listRemote, resolveClashes, type Listing } from "./listing.js";
export { formatInboxNotification, drainOutbox, ensureMailboxFolders, INBOX_DIR, OUTBOX_DIR } from "./mailbox.js";
export type * from "./types.js";
export { syncFailure } from "./types.js";
