/** `workspace-sync config check`: validate and print the resolved config with secrets masked. */
import { maskSecrets } from "../../config/index.js";
import type { CliContext } from "../context.js";

/** Validates the config; exit 0 when it loads. */
export async function configCheckCommand(ctx: CliContext): Promise<number> {
  const config = await ctx.config();
  const masked = maskSecrets(config);
  ctx.printJson({ ok: true, configPath: ctx.configPath, warnings: config.warnings, config: masked });
  ctx.print(`Config OK: ${ctx.configPath}`);
  ctx.print(JSON.stringify(masked, null, 2));
  return 0;
}
