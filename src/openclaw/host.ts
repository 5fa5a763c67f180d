/**
 * The part of the OpenClaw plugin API this adapter uses, written out structurally so the package
 * does not depend on the host (`openclaw` is ~330 MB). Shapes follow the published declarations of
 * `openclaw@2026.9.6` (`dist/plugin-entry-*.d.ts`: `OpenClawPluginApi`, `OpenClawPluginCliContext`,
 * `OpenClawPluginServiceContext`, `PluginHookSession*`, `OpenClawPluginToolContext`, `AnyAgentTool`),
 * reduced to the members read here; everything a 2026.1 host may lack is optional.
 */
import type { CommanderCommand } from "../cli/commander.js";

/** The host's logger (`PluginLogger`). */
export interface HostLogger {
  debug?: (message: string) => void;
  info: (message: string) => void;
  warn: (message: string) => void;
  error: (message: string) => void;
}

/** The few keys of the host config (`OpenClawConfig`) the adapter reads. */
export interface HostConfig {
  agents?: { list?: unknown; [key: string]: unknown };
  session?: { mainKey?: string; scope?: string; [key: string]: unknown };
  plugins?: { entries?: Record<string, { config?: unknown; [key: string]: unknown } | undefined>; [key: string]: unknown };
  [key: string]: unknown;
}

/** `registerCli`'s registrar context (`OpenClawPluginCliContext`). */
export interface HostCliContext {
  /** commander's `Command` for the root `openclaw` program. */
  program: CommanderCommand;
  parentPath?: readonly string[];
  config: HostConfig;
  workspaceDir?: string;
  logger: HostLogger;
}

/** A root command's parse-time metadata (`OpenClawPluginCliCommandDescriptor`). */
export interface HostCliDescriptor {
  name: string;
  description: string;
  hasSubcommands: boolean;
}

/** `registerService`'s context (`OpenClawPluginServiceContext`). */
export interface HostServiceContext {
  config: HostConfig;
  workspaceDir?: string;
  stateDir: string;
  logger: HostLogger;
}

/** A long-lived service (`OpenClawPluginService`). */
export interface HostService {
  id: string;
  reload?: { configPrefixes: readonly string[] };
  start(ctx: HostServiceContext): void | Promise<void>;
  stop?(ctx: HostServiceContext): void | Promise<void>;
}

/** Context of the typed session hooks (`PluginHookSessionContext`). */
export interface HostSessionContext {
  agentId?: string;
  sessionId: string;
  sessionKey?: string;
}

/** `session_start` event. */
export interface HostSessionStartEvent {
  sessionId: string;
  sessionKey?: string;
  resumedFrom?: string;
}

/** `session_end` event (`reason` "shutdown"/"restart" share a 2 s drain budget). */
export interface HostSessionEndEvent {
  sessionId: string;
  sessionKey?: string;
  messageCount?: number;
  durationMs?: number;
  reason?: string;
}

/** What a tool returns (`AgentToolResult`). */
export interface HostToolResult<T = unknown> {
  content: { type: "text"; text: string }[];
  details: T;
}

/** An agent tool (`AnyAgentTool`, the members set here). Throws on failure, as the host expects. */
export interface HostTool {
  name: string;
  label: string;
  description: string;
  /** JSON Schema of the parameters (TypeBox schemas are JSON Schema). */
  parameters: Record<string, unknown>;
  executionMode?: "sequential" | "parallel";
  execute(toolCallId: string, params: unknown, signal?: AbortSignal): Promise<HostToolResult>;
}

/** The context a tool factory gets (`OpenClawPluginToolContext`, the members read here). */
export interface HostToolContext {
  config?: HostConfig;
  workspaceDir?: string;
  agentId?: string;
  sessionKey?: string;
  sessionId?: string;
  sandboxed?: boolean;
}

/** `api.runtime`, the members used (all optional: older hosts and the CLI-only load may lack them). */
export interface HostRuntime {
  system?: {
    enqueueSystemEvent?: (text: string, options: { sessionKey: string; agentId?: string; contextKey?: string | null }) => boolean;
    /** Current hosts. */
    requestHeartbeat?: (options: { source: "other"; intent: "event"; reason?: string; agentId?: string; sessionKey?: string }) => void;
    /** Deprecated in current hosts in favour of `requestHeartbeat`; what 2026.1 hosts have. */
    requestHeartbeatNow?: (options?: { reason?: string; agentId?: string; sessionKey?: string }) => void;
  };
  agent?: {
    // Method syntax: the host types its config far more precisely; we hand back the one it gave us.
    resolveAgentWorkspaceDir?(config: HostConfig, agentId: string): string;
  };
  state?: {
    resolveStateDir?: () => string;
  };
}

/** The api object passed to `register` (`OpenClawPluginApi`, the members used). */
export interface HostApi {
  id: string;
  name?: string;
  registrationMode?: string;
  config: HostConfig;
  pluginConfig?: Record<string, unknown>;
  logger: HostLogger;
  runtime?: HostRuntime;
  registerCli(registrar: (ctx: HostCliContext) => void | Promise<void>, options?: { commands?: readonly string[]; descriptors?: readonly HostCliDescriptor[] }): void;
  registerService(service: HostService): void;
  registerTool?(tool: HostTool | ((ctx: HostToolContext) => HostTool | null | undefined), options?: { name?: string; names?: string[]; optional?: boolean }): void;
  on?(hookName: "session_start", handler: (event: HostSessionStartEvent, ctx: HostSessionContext) => void | Promise<void>): void;
  on?(hookName: "session_end", handler: (event: HostSessionEndEvent, ctx: HostSessionContext) => void | Promise<void>): void;
}
