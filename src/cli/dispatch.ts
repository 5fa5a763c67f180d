/** Running one table command, the same way for every front end. */
import { toWorkspaceSyncError } from "../errors.js";
import type { OptionValues } from "./args.js";
import type { CliContext } from "./context.js";
import type { CliCommand } from "./table.js";

/**
 * Runs a command's handler with its options (from `optionsFor`); an error it throws becomes exit 1 with `Error: <message>` on stderr
 * (and the JSON error with `--json`).
 */
export async function runCommandHandler(command: CliCommand, ctx: CliContext, options: OptionValues): Promise<number> {
  try {
    return await command.handler(ctx, options);
  } catch (err) {
    const e = toWorkspaceSyncError(err);
    ctx.printJson({ ok: false, error: e.message, code: e.code });
    ctx.io.stderr.write(`Error: ${e.message}\n`);
    return 1;
  }
}
