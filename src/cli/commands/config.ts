/** `workspace-sync config check`: validate and print the resolved config with secrets masked. */
import { PLUGIN_ID, maskSecrets } from "../../config/index.js";
import type { CliContext } from "../context.js";

/** Validates the config; exit 0 when it loads. */
export async function configCheckCommand(ctx: CliContext): Promise<number> {
  const config = await ctx.config();
  const masked = maskSecrets(config);
  ctx.printJson({ ok: true, configPath: ctx.configPath, warnings: config.warnings, config: masked });
  ctx.print(`Config OK: ${ctx.configPath}`);
  ctx.print(JSON.stringify(masked, null, 2));
  if (config.sync.provider === "off") {
    // As the plugin's status said it: an empty (or missing) entry config is valid, but does nothing.
    ctx.print("Provider: not configured");
    ctx.print(`Configure in openclaw.json plugins.entries.${PLUGIN_ID}.config`);
  }
  return 0;
}
