/**
 * `workspace-sync/openclaw`: the OpenClaw plugin entry (the package's `openclaw.extensions`).
 * It replaces the rclone-based `openclaw-workspace-sync` plugin under the same id, so existing
 * `plugins.entries["openclaw-workspace-sync"].config` blocks keep working.
 */
import { PLUGIN_ID } from "../config/index.js";
import { ConfigError } from "../config/index.js";
import { errorMessage } from "../errors.js";
import { pluginConfigJsonSchema, type JsonSchema } from "./config-schema.js";
import { resolvePluginConfig } from "./config.js";
import type { HostApi } from "./host.js";
import { PLUGIN_DESCRIPTION, PLUGIN_NAME } from "./manifest.js";
import { registerWorkspaceSync } from "./plugin.js";

/** One problem with the config, as the host's `safeParse` contract reports it. */
export interface ConfigIssuePath {
  path: (string | number)[];
  message: string;
}

/**
 * Validates a plugin config with the library's own rules (the same messages as the CLI), for
 * hosts that call the entry's `configSchema.safeParse`. `data` is the input unchanged.
 */
export function safeParsePluginConfig(value: unknown): { success: true; data: unknown } | { success: false; error: { issues: ConfigIssuePath[] } } {
  try {
    resolvePluginConfig(value);
    return { success: true, data: value };
  } catch (err) {
    const issues =
      err instanceof ConfigError && err.issues.length > 0
        ? err.issues.map((i) => ({ path: i.path === "(root)" ? [] : (i.path.match(/[^.[\]]+/g) ?? []).map((p) => (/^\d+$/.test(p) ? Number(p) : p)), message: i.message }))
        : [{ path: [], message: errorMessage(err) }];
    return { success: false, error: { issues } };
  }
}

let jsonSchema: JsonSchema | undefined;

/** The plugin entry object the host loads (`{ id, name, description, configSchema, register }`). */
const workspaceSyncPlugin = {
  id: PLUGIN_ID,
  name: PLUGIN_NAME,
  description: PLUGIN_DESCRIPTION,
  configSchema: {
    // Built on first read, not at import: importing the entry runs nothing (hosts and checkers
    // that import it with stand-in dependencies, such as plugin-inspector's mock SDK, rely on that).
    get jsonSchema(): JsonSchema {
      return (jsonSchema ??= pluginConfigJsonSchema());
    },
    safeParse: safeParsePluginConfig,
  },
  register(api: HostApi): void {
    registerWorkspaceSync(api);
  },
};

export default workspaceSyncPlugin;
export { registerWorkspaceSync, maskingLogger, type PluginState } from "./plugin.js";
export { buildManifest, manifestText, PLUGIN_NAME, PLUGIN_DESCRIPTION, CLI_ROOT, CLI_DESCRIPTION, type PluginManifest } from "./manifest.js";
export { pluginConfigJsonSchema, pluginConfigUiHints, type JsonSchema, type UiHint } from "./config-schema.js";
export { createInboxTool, runInboxTool, INBOX_TOOL_NAME, INBOX_TOOL_PARAMETERS, type InboxToolOptions } from "./inbox-tool.js";
export { mainSessionTarget, inboxNotificationText, notifyInbox, type SessionTarget } from "./notify.js";
export { resolvePluginConfig, pluginConfigFromHost, PLUGIN_CONFIG_PATH } from "./config.js";
export { hostCliRegistrar, HOST_FLAGS } from "./cli.js";
export type * from "./host.js";
