/**
 * Text for the agent: byte sizes and the inbox listing in the plugin's `workspace_inbox` tool
 * format (`📄 name (1.2KB)`, `📁 name/`, `🔗 name (symlink)`).
 */
import type { InboxEntry, InboxListing } from "./list.js";
import { formatBytes } from "../util/format.js";

export { formatBytes };

/** One listing line for an entry. */
export function describeInboxEntry(entry: InboxEntry): string {
  switch (entry.type) {
    case "dir":
      return `📁 ${entry.name}/`;
    case "symlink":
      return `🔗 ${entry.name} (symlink)`;
    default:
      return `📄 ${entry.name} (${formatBytes(entry.size)})`;
  }
}

/** The plugin tool's `list` payload: entry lines, workspace folders and a hint. */
export function inboxListingPayload(listing: InboxListing): { inbox: string[]; workspaceDirectories: string[]; hint: string } {
  return {
    inbox: listing.entries.length > 0 ? listing.entries.map(describeInboxEntry) : ["(empty)"],
    workspaceDirectories: listing.workspaceDirectories.length > 0 ? listing.workspaceDirectories : ["(none)"],
    hint: 'To move files, call moveFromInbox with a target folder relative to the workspace (e.g. "CODE/myproject") and the file names.',
  };
}
