/**
 * `openclaw.plugin.json`, the manifest the host reads without running plugin code, built from the
 * same sources as the code: the config schema from zod, the CLI root from the command table's
 * wording, the tool name from the tool. `scripts/gen-manifest.mjs` writes it; a test checks that
 * the checked-in file matches.
 */
import { PLUGIN_ID } from "../config/file.js";
import { pluginConfigJsonSchema, pluginConfigUiHints, type JsonSchema, type UiHint } from "./config-schema.js";
import { INBOX_TOOL_NAME } from "./inbox-tool.js";

/** The plugin's display name (kept from the plugin it replaces). */
export const PLUGIN_NAME = "Workspace Cloud Sync";
/** One line for plugin lists. */
export const PLUGIN_DESCRIPTION =
  "Encrypted streaming backups and folder sync (mailbox, mirror, bisync) of the agent workspace to S3, R2, B2, Dropbox or a local folder, in pure Node (no rclone, tar or openssl)";
/** The root command under `openclaw`. */
export const CLI_ROOT = "workspace-sync";
/** Its one-line description (root help and the registration descriptor say the same). */
export const CLI_DESCRIPTION = "Workspace backups (now, list, restore, prune, verify) and folder sync";

/** The manifest's shape (the fields written). */
export interface PluginManifest {
  id: string;
  name: string;
  description: string;
  activation: { onStartup: boolean };
  cliCommands: { name: string; description: string; hasSubcommands: boolean }[];
  contracts: { tools: string[] };
  skills: string[];
  uiHints: Record<string, UiHint>;
  configSchema: JsonSchema;
}

/** The manifest object, in the key order written to the file. */
export function buildManifest(): PluginManifest {
  return {
    id: PLUGIN_ID,
    name: PLUGIN_NAME,
    description: PLUGIN_DESCRIPTION,
    // Scheduled backups and periodic sync run from the Gateway's start: the service must load then.
    activation: { onStartup: true },
    cliCommands: [{ name: CLI_ROOT, description: CLI_DESCRIPTION, hasSubcommands: true }],
    contracts: { tools: [INBOX_TOOL_NAME] },
    skills: ["./skills"],
    uiHints: pluginConfigUiHints(),
    configSchema: pluginConfigJsonSchema(),
  };
}

/** The file's text: two-space JSON and a final newline. */
export function manifestText(): string {
  return `${JSON.stringify(buildManifest(), null, 2)}\n`;
}
