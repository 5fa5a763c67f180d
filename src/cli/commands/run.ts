/** `workspace-sync run`: both schedulers in the foreground until SIGINT/SIGTERM, then a clean stop. */
import { WorkspaceSync } from "../../manager/index.js";
import type { CliContext } from "../context.js";

/** Runs until the context's signal fires. */
export async function runCommand(ctx: CliContext): Promise<number> {
  const config = await ctx.config();
  const ws = new WorkspaceSync({
    config,
    workspaceDir: ctx.workspaceDir,
    stateDir: ctx.stateDir,
    logger: ctx.logger,
    onInboxFiles: (_files, text) => ctx.print(text),
  });
  await ws.start();
  ctx.print("workspace-sync running; press Ctrl-C to stop");
  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) resolve();
    else ctx.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  ctx.print("Stopping...");
  await ws.stop();
  ctx.print("Stopped.");
  return 0;
}
