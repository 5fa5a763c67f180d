/**
 * Inbox helper for the agent (the plugin's pending `workspace_inbox` tool as functions): list what
 * the mailbox drain put in `_inbox`, look at one entry, and move entries into the workspace.
 */
export { listInbox, peekInbox, type InboxEntry, type InboxEntryType, type InboxListing, type InboxPeek, type ListInboxOptions } from "./list.js";
export { moveFromInbox, moveEntryNoClobber, suffixedName, type MoveFromInboxOptions, type MoveFromInboxResult } from "./move.js";
export type { LeftBehind } from "./folder-copy.js";
export { formatBytes, describeInboxEntry, inboxListingPayload } from "./format.js";
export { inboxPath, isSafeBasename, assertSafeBasename, type InboxLocation } from "./paths.js";
export { resolveMoveTarget, type ResolvedTarget } from "./target.js";
