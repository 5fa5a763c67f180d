/**
 * `register(api)`: the OpenClaw plugin over the library's {@link WorkspaceSync} class. One service
 * owns one manager for the host's workspace (started and stopped with the Gateway, restarted when
 * the plugin config changes); session hooks and the inbox tool go through that manager; the host
 * CLI runs the command table. Nothing here schedules, syncs or backs up by itself.
 */
import path from "node:path";
import { collectSecrets, rawEndpointSecrets, redact } from "../cli/redact.js";
import { PLUGIN_ID } from "../config/index.js";
import type { ResolvedConfig } from "../config/index.js";
import { errorMessage } from "../errors.js";
import type { Logger } from "../logger.js";
import { WorkspaceSync } from "../manager/index.js";
import { hostCliRegistrar, hostStateDir } from "./cli.js";
import { hostConfigDir, pluginConfigFromHost, resolvePluginConfig } from "./config.js";
import type { HostApi, HostConfig, HostLogger, HostServiceContext, HostSessionContext, HostSessionEndEvent } from "./host.js";
import { createInboxTool, INBOX_TOOL_NAME } from "./inbox-tool.js";
import { CLI_DESCRIPTION, CLI_ROOT } from "./manifest.js";
import { mainSessionTarget, notifyInbox } from "./notify.js";

/** Session-end reasons during which the host drains hooks within 2 s: no sync is started then. */
const SHUTDOWN_REASONS = new Set(["shutdown", "restart"]);

/** The host logger with every secret of `config` masked (the library never logs one; this is the last guard). */
export function maskingLogger(logger: HostLogger, config: ResolvedConfig): Logger {
  const secrets = collectSecrets(config);
  const mask = (m: string) => redact(m, secrets);
  return {
    info: (m) => logger.info(mask(m)),
    warn: (m) => logger.warn(mask(m)),
    error: (m) => logger.error(mask(m)),
    debug: logger.debug ? (m) => logger.debug?.(mask(m)) : undefined,
  };
}

/**
 * The text of an error about the raw plugin config `raw`, for the host's log: URL userinfo masked,
 * and every spelling of the credentials of any endpoint in `raw` (the config validator already
 * describes such values by type only; this is the last guard).
 */
function configErrorText(err: unknown, raw: unknown): string {
  return redact(errorMessage(err), rawEndpointSecrets(raw));
}

/** What `register` keeps between calls: the running manager and the config it was started with. */
export interface PluginState {
  /** The manager of the running service, if started. */
  manager: WorkspaceSync | undefined;
  /** The host config the service was started with. */
  hostConfig: HostConfig | undefined;
}

/**
 * Registers the plugin: CLI, service, session hooks and (mailbox mode) the `workspace_inbox` tool.
 * Returns the state, for tests and hosts that embed it. Never throws: a bad config is logged and
 * the service stays idle (the host's own validation already reported it).
 */
export function registerWorkspaceSync(api: HostApi): PluginState {
  const state: PluginState = { manager: undefined, hostConfig: undefined };
  const log = api.logger;

  // Outside a full load (`cli-metadata`, discovery...) the host only wants the declarations: its
  // runtime throws on any access then, so nothing here touches it, and only a full load logs.
  const fullLoad = api.registrationMode === undefined || api.registrationMode === "full";
  let registered: ResolvedConfig | undefined;
  try {
    // A relative local.root: against the host config file's folder, as the bin does for --config.
    const baseDir = fullLoad ? hostConfigDir(hostStateDir(api)) : undefined;
    registered = resolvePluginConfig(api.pluginConfig ?? pluginConfigFromHost(api.config), { baseDir });
  } catch (err) {
    if (fullLoad) log.error(`[workspace-sync] ${configErrorText(err, [api.pluginConfig, pluginConfigFromHost(api.config)])}`);
  }
  if (fullLoad) {
    const sync = registered && registered.sync.provider !== "off" ? registered.sync.provider : "off";
    const backup = registered?.backup?.enabled ? registered.backup.provider : "off";
    log.info(`workspace-sync: registered (sync: ${sync}, backup: ${backup})`);
  }

  // Older hosts only read `commands`; current ones want descriptors. Both name the same root.
  api.registerCli(hostCliRegistrar(api), { commands: [CLI_ROOT], descriptors: [{ name: CLI_ROOT, description: CLI_DESCRIPTION, hasSubcommands: true }] });

  if (typeof api.registerService === "function") {
    api.registerService({
      id: PLUGIN_ID,
      reload: { configPrefixes: [`plugins.entries.${PLUGIN_ID}`] },
      start: (ctx) => startService(api, state, ctx),
      stop: () => stopService(state),
    });
  }

  if (typeof api.on === "function") {
    // Registered whatever the config says now: the flags are read when a session starts or ends,
    // so turning them on takes effect on the service's reload without re-registering.
    api.on("session_start", (_event, ctx) => sessionHook(api, state, "start", ctx));
    api.on("session_end", (event, ctx) => sessionHook(api, state, "end", ctx, event));
  }

  if (typeof api.registerTool === "function" && registered?.sync.mode === "mailbox") {
    const config = registered;
    api.registerTool(
      (ctx) => {
        // Sandboxed runs see a sandbox, not the host's workspace folder: the tool is not offered there.
        if (!ctx.workspaceDir || ctx.sandboxed) return null;
        const sync = state.manager?.config.sync ?? config.sync;
        if (sync.mode !== "mailbox") return null;
        return createInboxTool({ workspaceDir: ctx.workspaceDir, localPath: sync.localPath });
      },
      { name: INBOX_TOOL_NAME },
    );
  }
  return state;
}

/** Resolves the workspace the service manages: the host's, else the default agent's. */
function serviceWorkspace(api: HostApi, ctx: HostServiceContext): string | undefined {
  if (ctx.workspaceDir) return ctx.workspaceDir;
  const resolve = api.runtime?.agent?.resolveAgentWorkspaceDir;
  return resolve ? resolve(ctx.config, mainSessionTarget(ctx.config).agentId) : undefined;
}

async function startService(api: HostApi, state: PluginState, ctx: HostServiceContext): Promise<void> {
  await stopService(state);
  let config: ResolvedConfig;
  try {
    // The committed host config, not the one seen at register time: a reload restarts the service.
    config = resolvePluginConfig(pluginConfigFromHost(ctx.config) ?? api.pluginConfig, { baseDir: hostConfigDir(ctx.stateDir) });
  } catch (err) {
    ctx.logger.error(`[workspace-sync] service not started: ${configErrorText(err, [pluginConfigFromHost(ctx.config), api.pluginConfig])}`);
    return;
  }
  if (config.sync.provider === "off" && config.backup?.enabled !== true) {
    // Nothing to run: as the plugin said it (its service returned here, workspace or not).
    ctx.logger.info("[workspace-sync] service: sync not configured, idle");
    return;
  }
  const workspaceDir = serviceWorkspace(api, ctx);
  if (!workspaceDir) {
    ctx.logger.error("[workspace-sync] service not started: the host gave no workspace folder");
    return;
  }
  const logger = maskingLogger(ctx.logger, config);
  const manager = new WorkspaceSync({
    config,
    workspaceDir: path.resolve(workspaceDir),
    stateDir: ctx.stateDir,
    logger,
    onInboxFiles: async (files) => {
      await notifyInbox(files, {
        runtime: api.runtime,
        config: state.hostConfig,
        logger,
        workspaceDir: manager.workspaceDir,
        localPath: manager.config.sync.localPath,
        toolAvailable: typeof api.registerTool === "function" && manager.config.sync.mode === "mailbox",
      });
    },
  });
  state.manager = manager;
  state.hostConfig = ctx.config;
  await manager.start();
}

async function stopService(state: PluginState): Promise<void> {
  const manager = state.manager;
  state.manager = undefined;
  await manager?.stop();
}

/**
 * A session started or ended: start one sync on the service's manager and return at once (the host
 * waits for hooks; `session_end` during shutdown has 2 s for all plugins together). Skipped when a
 * sync is running, when the flag is off, when the session's agent works in another workspace, and
 * at a shutdown or restart (the stopping service would cancel it straight away).
 */
function sessionHook(api: HostApi, state: PluginState, which: "start" | "end", ctx: HostSessionContext | undefined, event?: HostSessionEndEvent): void {
  const manager = state.manager;
  if (!manager) return;
  const sync = manager.config.sync;
  if (!(which === "start" ? sync.onSessionStart : sync.onSessionEnd)) return;
  const log = manager.logger;
  if (which === "end" && event?.reason && SHUTDOWN_REASONS.has(event.reason)) {
    log.info(`[workspace-sync] session ended by ${event.reason}: no session-end sync (the next start or interval syncs)`);
    return;
  }
  const agentId = ctx?.agentId;
  const resolve = api.runtime?.agent?.resolveAgentWorkspaceDir;
  if (agentId && resolve && state.hostConfig) {
    let dir: string | undefined;
    try {
      dir = resolve(state.hostConfig, agentId);
    } catch {
      dir = undefined;
    }
    if (dir && path.resolve(dir) !== manager.workspaceDir) {
      log.debug?.(`[workspace-sync] session of agent ${agentId} works in ${dir}, not ${manager.workspaceDir}: no session ${which} sync`);
      return;
    }
  }
  if (manager.isSyncing()) {
    log.info(`[workspace-sync] sync already in progress, skipping session ${which} trigger`);
    return;
  }
  const run = which === "start" ? manager.onSessionStart() : manager.onSessionEnd();
  run.catch((err: unknown) => log.warn(`[workspace-sync] session ${which} sync: ${errorMessage(err)}`));
}
