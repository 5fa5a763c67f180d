/** `workspace-sync config check`: validate and print the resolved config with secrets masked. */
import { PLUGIN_ID, maskSecrets } from "../../config/index.js";
import type { ResolvedConfig } from "../../config/index.js";
import { WorkspaceSyncError, isWorkspaceSyncError } from "../../errors.js";
import { resolveS3Endpoint } from "../../providers/s3/settings.js";
import type { CliContext } from "../context.js";

/**
 * Reads each S3 endpoint as the S3 code will, so an endpoint it would refuse (credentials it cannot
 * read safely, not a URL) fails the check now, naming its section, rather than at the first run.
 */
function checkEndpoints(config: ResolvedConfig): void {
  for (const [section, s3] of [["sync", config.sync.s3], ["backup", config.backup?.s3]] as const) {
    if (!s3?.endpoint) continue;
    try {
      resolveS3Endpoint(s3);
    } catch (err) {
      if (!isWorkspaceSyncError(err)) throw err;
      throw new WorkspaceSyncError(err.code, `${section}.${err.message}`, { path: `${section}.s3.endpoint` });
    }
  }
}

/** Validates the config; exit 0 when it loads. */
export async function configCheckCommand(ctx: CliContext): Promise<number> {
  const config = await ctx.config();
  checkEndpoints(config);
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
