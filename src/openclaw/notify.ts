/**
 * Telling the agent that files arrived in `_inbox`: a system event in the agent's main session,
 * then a heartbeat so it is read now rather than at the next turn.
 */
import { listInbox } from "../inbox/index.js";
import type { HostConfig, HostLogger, HostRuntime } from "./host.js";
import { INBOX_TOOL_NAME } from "./inbox-tool.js";

/** Most names listed in one notification. */
const MAX_NAMES = 10;
/** Longest name shown (a cloud name is untrusted text that lands in the agent's context). */
const MAX_NAME_CHARS = 120;

/** The agent whose main session is notified, and that session's key. */
export interface SessionTarget {
  agentId: string;
  sessionKey: string;
}

const lower = (s: string) => s.trim().toLowerCase();

/**
 * The default agent (the `agents.list` entry marked `default`, else the first, else `main`) and
 * its main session key, `agent:<id>:<session.mainKey or main>`, or `global` when
 * `session.scope` is `global`. The same rule as the plugin; current hosts also canonicalise the
 * key from the agent id given with it.
 */
export function mainSessionTarget(config: HostConfig | undefined): SessionTarget {
  const list = Array.isArray(config?.agents?.list) ? (config.agents.list as unknown[]) : [];
  const agents = list.filter((a): a is { id: string; default?: unknown } => !!a && typeof a === "object" && typeof (a as { id?: unknown }).id === "string" && (a as { id: string }).id.trim() !== "");
  const agentId = lower((agents.find((a) => a.default === true) ?? agents[0])?.id ?? "main");
  const mainKey = typeof config?.session?.mainKey === "string" && config.session.mainKey.trim() ? lower(config.session.mainKey) : "main";
  return { agentId, sessionKey: config?.session?.scope === "global" ? "global" : `agent:${agentId}:${mainKey}` };
}

/** A name safe to show: control characters replaced, long names cut. */
export function displayName(name: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = name.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, "?");
  return clean.length > MAX_NAME_CHARS ? `${clean.slice(0, MAX_NAME_CHARS - 1)}…` : clean;
}

/** The notification text: the new names, the workspace's top folders, and how to move them. */
export function inboxNotificationText(files: readonly string[], workspaceDirectories: readonly string[], toolAvailable: boolean): string {
  const lines = ["📥 New files arrived in _inbox:"];
  for (const f of files.slice(0, MAX_NAMES)) lines.push(`  • ${displayName(f)}`);
  if (files.length > MAX_NAMES) lines.push(`  … and ${files.length - MAX_NAMES} more`);
  const top = workspaceDirectories.filter((d) => !d.includes("/"));
  if (top.length > 0) {
    lines.push("", "Workspace directories:");
    for (const d of top) lines.push(`  📁 ${displayName(d)}`);
  }
  lines.push(
    "",
    toolAvailable
      ? `Use the ${INBOX_TOOL_NAME} tool to look at them (action "list" or "peek") or move them into a workspace folder (action "move").`
      : 'To move them, tell me which directory (e.g. "move inbox files to CODE/myproject").',
  );
  return lines.join("\n");
}

/** Options of {@link notifyInbox}. */
export interface NotifyOptions {
  runtime: HostRuntime | undefined;
  config: HostConfig | undefined;
  logger: HostLogger;
  workspaceDir: string;
  localPath: string;
  toolAvailable: boolean;
}

/**
 * Enqueues the notification in the default agent's main session and asks for a heartbeat.
 * Returns false (with a warning) when the host offers no system events.
 */
export async function notifyInbox(files: readonly string[], options: NotifyOptions): Promise<boolean> {
  const system = options.runtime?.system;
  if (!system?.enqueueSystemEvent) {
    options.logger.warn("[workspace-sync] notifyOnInbox: this OpenClaw host offers no system events; the agent was not told about the new inbox files");
    return false;
  }
  const dirs = await listInbox({ workspaceDir: options.workspaceDir, localPath: options.localPath }).then(
    (l) => l.workspaceDirectories,
    () => [] as string[],
  );
  const target = mainSessionTarget(options.config);
  const text = inboxNotificationText(files, dirs, options.toolAvailable);
  const queued = system.enqueueSystemEvent(text, { sessionKey: target.sessionKey, agentId: target.agentId });
  const reason = "workspace-sync:inbox";
  if (system.requestHeartbeat) system.requestHeartbeat({ source: "other", intent: "event", reason, agentId: target.agentId, sessionKey: target.sessionKey });
  else system.requestHeartbeatNow?.({ reason });
  options.logger.info(`[workspace-sync] Notified ${target.sessionKey} of ${files.length} new inbox file(s)${queued ? "" : " (the host did not queue it)"}`);
  return queued;
}
