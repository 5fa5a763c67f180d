/**
 * `openclaw workspace-sync …`: the command table under the host's commander program. The host
 * supplies the workspace (its CLI context, or `--agent`/`--workspace`), the state folder (its own)
 * and the plugin config (its `openclaw.json` entry); the commands, wording and handlers are the
 * `workspace-sync` bin's.
 */
import os from "node:os";
import path from "node:path";
import { addCommandsTo, type CommanderFrontEnd } from "../cli/commander.js";
import { createCliContext, type CliContext } from "../cli/context.js";
import type { CliFlag } from "../cli/table.js";
import { hostConfigDir, PLUGIN_CONFIG_PATH, pluginConfigFromHost, resolvePluginConfig } from "./config.js";
import type { HostApi, HostCliContext } from "./host.js";
import { CLI_DESCRIPTION, CLI_ROOT } from "./manifest.js";

/** The host's global options, typed (its commands' context reads `agent`, `workspace`, `json`, `verbose`). */
const HOST_FLAG_LIST = [
  { name: "agent", value: "ID", help: "Use this agent's workspace (default: the current or default agent's)" },
  { name: "workspace", value: "DIR", help: "Agent workspace folder (overrides --agent)" },
  { name: "json", help: "Machine-readable output on stdout" },
  { name: "verbose", short: "v", help: "Log lines on stderr" },
] as const satisfies readonly CliFlag[];

/** Options of every host command besides its own (`--config` and `--state-dir` belong to the host). */
export const HOST_FLAGS: readonly CliFlag[] = HOST_FLAG_LIST;

/** The host's state folder: its runtime's answer, else OPENCLAW_STATE_DIR, else ~/.openclaw. */
export function hostStateDir(api: HostApi, env: NodeJS.ProcessEnv = process.env): string {
  const fromHost = api.runtime?.state?.resolveStateDir?.();
  return path.resolve(fromHost || env.OPENCLAW_STATE_DIR || path.join(os.homedir(), ".openclaw"));
}

/** Aborts on the first SIGINT/SIGTERM (the command stops cleanly), exits on the second. */
function interruptSignal(): { signal: AbortSignal; release(): void } {
  const controller = new AbortController();
  let count = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (++count > 1) process.exit(130);
    controller.abort(new Error(`interrupted by ${sig}`));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    signal: controller.signal,
    release() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}

/** The registrar passed to `api.registerCli`. */
export function hostCliRegistrar(api: HostApi): (ctx: HostCliContext) => void {
  return (cli) => {
    let release: (() => void) | undefined;
    const frontEnd: CommanderFrontEnd<typeof HOST_FLAG_LIST> = {
      globalFlags: HOST_FLAG_LIST,
      context(globals): CliContext {
        const stateDir = hostStateDir(api);
        const agent = globals.agent;
        const resolveAgent = api.runtime?.agent?.resolveAgentWorkspaceDir;
        let workspaceDir = globals.workspace;
        if (!workspaceDir && agent) {
          if (!resolveAgent) throw new Error("--agent needs an OpenClaw host that resolves agent workspaces; pass --workspace DIR instead");
          workspaceDir = resolveAgent(cli.config, agent);
        }
        workspaceDir = path.resolve(workspaceDir ?? cli.workspaceDir ?? process.env.OPENCLAW_WORKSPACE ?? process.cwd());
        const interrupt = interruptSignal();
        release = interrupt.release;
        return createCliContext({
          json: globals.json,
          verbose: globals.verbose,
          io: { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() },
          signal: interrupt.signal,
          workspaceDir,
          stateDir,
          configPath: PLUGIN_CONFIG_PATH,
          loadConfig: async () => resolvePluginConfig(pluginConfigFromHost(cli.config) ?? api.pluginConfig, { baseDir: hostConfigDir(stateDir) }),
        });
      },
      exit(code) {
        release?.();
        process.exitCode = code;
      },
    };
    addCommandsTo(cli.program.command(CLI_ROOT).description(CLI_DESCRIPTION), frontEnd);
  };
}
