/**
 * The `workspace_inbox` agent tool (mailbox mode): `list` what the drain put in `_inbox` and the
 * workspace folders, `peek` at one entry, `move` entries into a folder of the workspace. A thin
 * layer over `src/inbox`, which does the checking: plain entry names only, targets inside the
 * workspace lexically and after resolving symbolic links, symbolic links skipped, nothing
 * overwritten (a taken name gets ` (1)`). Bad input throws, as the host expects of tools.
 */
import { errorMessage, throwIfAborted } from "../errors.js";
import { listInbox, moveFromInbox, peekInbox, describeInboxEntry } from "../inbox/index.js";
import type { HostTool, HostToolResult } from "./host.js";

/** The tool's name (also declared in the manifest's `contracts.tools`). */
export const INBOX_TOOL_NAME = "workspace_inbox";

const ACTIONS = ["list", "peek", "move"] as const;
type Action = (typeof ACTIONS)[number];

/** JSON Schema of the tool's parameters. */
export const INBOX_TOOL_PARAMETERS = {
  type: "object",
  additionalProperties: false,
  required: ["action"],
  properties: {
    action: {
      type: "string",
      enum: [...ACTIONS],
      description: "list: what is in _inbox and the workspace folders; peek: details of one entry; move: entries into a workspace folder.",
    },
    target: {
      type: "string",
      description: 'peek: the entry name as listed. move: the destination folder relative to the workspace (created when missing), e.g. "CODE/myproject".',
    },
    files: {
      type: "array",
      items: { type: "string" },
      description: "move: the entry names to move (default: every entry except symbolic links).",
    },
  },
} as const;

/** Where the inbox is. */
export interface InboxToolOptions {
  workspaceDir: string;
  /** The sync `localPath` (the inbox is `<workspace>/<localPath>/_inbox`). */
  localPath: string;
}

interface Params {
  action: Action;
  target?: string;
  files?: string[];
}

/** Checks the raw parameters (the model may send anything). */
export function parseInboxToolParams(raw: unknown): Params {
  const p = (raw ?? {}) as Record<string, unknown>;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Error('workspace_inbox: parameters must be an object such as { "action": "list" }');
  if (!ACTIONS.includes(p.action as Action)) throw new Error(`workspace_inbox: "action" must be one of ${ACTIONS.join(", ")} (got ${JSON.stringify(p.action)})`);
  if (p.target !== undefined && typeof p.target !== "string") throw new Error('workspace_inbox: "target" must be a string');
  if (p.files !== undefined && (!Array.isArray(p.files) || p.files.some((f) => typeof f !== "string"))) {
    throw new Error('workspace_inbox: "files" must be a list of entry names');
  }
  return { action: p.action as Action, target: p.target as string | undefined, files: p.files as string[] | undefined };
}

function result<T>(payload: T): HostToolResult<T> {
  return { content: [{ type: "text", text: JSON.stringify(payload, null, 2) }], details: payload };
}

/** Runs one call. */
export async function runInboxTool(options: InboxToolOptions, raw: unknown, signal?: AbortSignal): Promise<HostToolResult> {
  const params = parseInboxToolParams(raw);
  const loc = { workspaceDir: options.workspaceDir, localPath: options.localPath };
  try {
    throwIfAborted(signal);
    switch (params.action) {
      case "list": {
        const listing = await listInbox(loc);
        return result({
          inbox: listing.entries.length > 0 ? listing.entries.map(describeInboxEntry) : ["(empty)"],
          workspaceDirectories: listing.workspaceDirectories.length > 0 ? listing.workspaceDirectories : ["(none)"],
          ...(listing.directoriesTruncated ? { directoriesTruncated: true } : {}),
          hint: 'To move entries, call workspace_inbox with action "move", a target folder relative to the workspace (e.g. "CODE/myproject") and optionally the file names.',
        });
      }
      case "peek": {
        if (!params.target) throw new Error('"target" is required for peek: the entry name as listed');
        return result(await peekInbox({ ...loc, name: params.target }));
      }
      case "move": {
        if (!params.target) throw new Error('"target" is required for move: a folder relative to the workspace, e.g. "docs/reports"');
        const moved = await moveFromInbox({ ...loc, target: params.target, files: params.files });
        return result({ moved: moved.moved, ...(moved.errors.length ? { errors: moved.errors } : {}), remaining: moved.remaining });
      }
    }
  } catch (err) {
    throw new Error(`workspace_inbox ${params.action}: ${errorMessage(err)}`, { cause: err });
  }
}

/** The tool for one workspace. */
export function createInboxTool(options: InboxToolOptions): HostTool {
  return {
    name: INBOX_TOOL_NAME,
    label: "Workspace Inbox",
    description:
      "Files other people or machines dropped into the cloud _outbox arrive in the workspace's _inbox. List them with the workspace folders, peek at one, or move them into a folder of the workspace (never overwriting: a taken name gets a (1) suffix; symbolic links are skipped).",
    parameters: INBOX_TOOL_PARAMETERS as unknown as Record<string, unknown>,
    executionMode: "sequential",
    execute: (_toolCallId, params, signal) => runInboxTool(options, params, signal),
  };
}
