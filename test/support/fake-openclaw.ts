/**
 * A stand-in for the OpenClaw host's plugin loader, for tests. The host's own test api is not
 * published, so this one is built from the loader of `openclaw@2026.9.6`
 * (`dist/loader-runtime-load-*.mjs`) and enforces the rules a plugin meets there:
 * - `registerCli` without `commands`/`descriptors` is an error ("cli registration missing explicit
 *   commands metadata"), and a root command must be declared in the manifest's `cliCommands`;
 * - `registerTool` before the manifest declares `contracts.tools` is an error, and so is a tool
 *   name the manifest does not declare (a factory must name its tools in the options);
 * - typed hooks other than the known ones are ignored with a warning;
 * - services start at Gateway startup only when the manifest sets `activation.onStartup`;
 * - `register` is synchronous.
 * Registration errors are collected (as the host reports them) and fail the test via `assertClean`.
 * The types used are the package's own structural host types (`src/openclaw/host.ts`).
 */
import type {
  HostApi,
  HostCliContext,
  HostCliDescriptor,
  HostConfig,
  HostLogger,
  HostService,
  HostSessionContext,
  HostSessionEndEvent,
  HostSessionStartEvent,
  HostTool,
  HostToolContext,
} from "../../src/openclaw/host.js";

/** The manifest fields the loader reads (openclaw.plugin.json). */
export interface FakeManifest {
  id: string;
  activation?: { onStartup?: boolean };
  cliCommands?: { name: string; description: string; hasSubcommands: boolean }[];
  contracts?: { tools?: string[] };
}

type ToolFactory = (ctx: HostToolContext) => HostTool | null | undefined;
type SessionStartHandler = (event: HostSessionStartEvent, ctx: HostSessionContext) => unknown;
type SessionEndHandler = (event: HostSessionEndEvent, ctx: HostSessionContext) => unknown;

/** What the fake host recorded. */
export interface FakeHost {
  api: HostApi;
  errors: string[];
  warnings: string[];
  logs: { level: string; message: string }[];
  cli: { registrar: (ctx: HostCliContext) => void | Promise<void>; commands: string[]; descriptors: HostCliDescriptor[] }[];
  services: HostService[];
  tools: { factory: ToolFactory; names: string[] }[];
  hooks: { session_start: SessionStartHandler[]; session_end: SessionEndHandler[] };
  systemEvents: { text: string; sessionKey: string; agentId?: string }[];
  heartbeats: { source?: string; intent?: string; reason?: string; sessionKey?: string }[];
  /** Loads the plugin entry: `register(api)` must not return a promise. */
  load(entry: { id: string; register(api: HostApi): unknown }): void;
  /** Gateway startup: starts every service (only when the manifest says onStartup). */
  startServices(ctx: { workspaceDir: string; stateDir: string }): Promise<void>;
  stopServices(): Promise<void>;
  /** Fires a typed hook and returns what the handlers returned (not awaited). */
  fireSessionStart(ctx: HostSessionContext): unknown[];
  fireSessionEnd(event: Partial<HostSessionEndEvent>, ctx: HostSessionContext): unknown[];
  /** The tool a run would get (the factory called with the run's context). */
  toolFor(ctx: HostToolContext): HostTool | undefined;
  /** Throws when a registration error was reported. */
  assertClean(): void;
}

const KNOWN_HOOKS = new Set(["session_start", "session_end", "before_agent_start", "agent_end", "before_tool_call", "after_tool_call", "message_received"]);

/** The runtime as the host hands it out in `mode`: unusable (every access throws) outside `full`. */
function runtimeFor(mode: string, runtime: NonNullable<HostApi["runtime"]>): NonNullable<HostApi["runtime"]> {
  if (mode === "full") return runtime;
  return new Proxy(runtime, {
    get() {
      throw new Error(`Plugin runtime is intentionally unavailable during "${mode}" registration. Declare root commands in the manifest's cliCommands or defer runtime access out of register().`);
    },
  });
}

/** Builds a fake host around `manifest`, with this plugin config and host config. */
export function createFakeHost(options: {
  manifest: FakeManifest;
  pluginConfig: Record<string, unknown>;
  hostConfig?: HostConfig;
  /** Workspace per agent id, for `runtime.agent.resolveAgentWorkspaceDir`. */
  agentWorkspaces?: Record<string, string>;
  stateDir?: string;
  /**
   * How the host loads the plugin. In `cli-metadata` (what `openclaw <command>` does first, to
   * learn the CLI roots) the real host hands out a runtime whose every property access throws.
   */
  registrationMode?: "full" | "cli-metadata";
}): FakeHost {
  const { manifest } = options;
  const hostConfig: HostConfig = { ...options.hostConfig, plugins: { entries: { [manifest.id]: { enabled: true, config: options.pluginConfig } } } };
  const errors: string[] = [];
  const warnings: string[] = [];
  const logs: FakeHost["logs"] = [];
  const logger: HostLogger = {
    debug: (m) => logs.push({ level: "debug", message: m }),
    info: (m) => logs.push({ level: "info", message: m }),
    warn: (m) => logs.push({ level: "warn", message: m }),
    error: (m) => logs.push({ level: "error", message: m }),
  };
  const host: Omit<FakeHost, "api" | "load" | "startServices" | "stopServices" | "fireSessionStart" | "fireSessionEnd" | "toolFor" | "assertClean"> = {
    errors,
    warnings,
    logs,
    cli: [],
    services: [],
    tools: [],
    hooks: { session_start: [], session_end: [] },
    systemEvents: [],
    heartbeats: [],
  };
  const declaredTools = manifest.contracts?.tools ?? [];
  const declaredCli = new Set((manifest.cliCommands ?? []).map((c) => c.name));
  let startedWith: { workspaceDir: string; stateDir: string } | undefined;

  const api: HostApi = {
    id: manifest.id,
    name: manifest.id,
    registrationMode: options.registrationMode ?? "full",
    config: hostConfig,
    pluginConfig: options.pluginConfig,
    logger,
    runtime: runtimeFor(options.registrationMode ?? "full", {
      system: {
        enqueueSystemEvent: (text, o) => {
          host.systemEvents.push({ text, sessionKey: o.sessionKey, agentId: o.agentId });
          return true;
        },
        requestHeartbeat: (o) => host.heartbeats.push(o),
      },
      agent: {
        resolveAgentWorkspaceDir: (_config, agentId) => {
          const dir = options.agentWorkspaces?.[agentId.toLowerCase()];
          if (!dir) throw new Error(`unknown agent ${agentId}`);
          return dir;
        },
      },
      state: { resolveStateDir: () => options.stateDir ?? "/nonexistent-state" },
    }),
    registerCli(registrar, opts) {
      const commands = [...(opts?.commands ?? []), ...(opts?.descriptors ?? []).map((d) => d.name)];
      if (commands.length === 0) {
        errors.push("cli registration missing explicit commands metadata");
        return;
      }
      for (const c of commands) if (!declaredCli.has(c)) warnings.push(`cli command ${c} is not declared in the manifest's cliCommands`);
      host.cli.push({ registrar, commands: [...new Set(commands)], descriptors: [...(opts?.descriptors ?? [])] });
    },
    registerService(service) {
      if (!service.id?.trim()) {
        errors.push("service registration missing id");
        return;
      }
      host.services.push(service);
    },
    registerTool(tool, opts) {
      if (declaredTools.length === 0) {
        errors.push("plugin must declare contracts.tools before registering agent tools");
        return;
      }
      const names = [...(opts?.names ?? []), ...(opts?.name ? [opts.name] : []), ...(typeof tool === "function" ? [] : [tool.name])];
      const undeclared = names.filter((n) => !declaredTools.includes(n));
      if (undeclared.length > 0) {
        errors.push(`plugin must declare contracts.tools for: ${undeclared.join(", ")}`);
        return;
      }
      host.tools.push({ factory: typeof tool === "function" ? tool : () => tool, names });
    },
    on(hookName: string, handler: SessionStartHandler | SessionEndHandler) {
      if (!KNOWN_HOOKS.has(hookName)) {
        warnings.push(`unknown typed hook "${hookName}" ignored`);
        return;
      }
      if (hookName === "session_start") host.hooks.session_start.push(handler as SessionStartHandler);
      if (hookName === "session_end") host.hooks.session_end.push(handler as SessionEndHandler);
    },
  } as HostApi;

  const serviceCtx = () => ({ config: hostConfig, workspaceDir: startedWith?.workspaceDir, stateDir: startedWith?.stateDir ?? "", logger });
  return {
    ...host,
    api,
    load(entry) {
      if (entry.id !== manifest.id) errors.push(`plugin id mismatch: entry ${entry.id}, manifest ${manifest.id}`);
      const r = entry.register(api);
      if (r && typeof (r as Promise<unknown>).then === "function") errors.push("register returned a promise (registration must be synchronous)");
    },
    async startServices(ctx) {
      if (manifest.activation?.onStartup !== true) throw new Error("manifest has no activation.onStartup: a current host would not start this plugin at Gateway startup");
      startedWith = ctx;
      for (const s of host.services) await s.start(serviceCtx());
    },
    async stopServices() {
      for (const s of host.services) await s.stop?.(serviceCtx());
    },
    fireSessionStart(ctx) {
      return host.hooks.session_start.map((h) => h({ sessionId: ctx.sessionId, sessionKey: ctx.sessionKey }, ctx));
    },
    fireSessionEnd(event, ctx) {
      return host.hooks.session_end.map((h) => h({ sessionId: ctx.sessionId, messageCount: 3, ...event }, ctx));
    },
    toolFor(ctx) {
      for (const t of host.tools) {
        const tool = t.factory(ctx);
        if (tool) return tool;
      }
      return undefined;
    },
    assertClean() {
      if (errors.length > 0) throw new Error(`plugin registration errors: ${errors.join("; ")}`);
    },
  };
}
