/** `workspace-sync sync [--dry-run]`, `sync status` and `list`. */
import path from "node:path";
import { runSync } from "../../sync/index.js";
import { listSyncRemote } from "../../sync/remote.js";
import { readLastRun } from "../../state/last-run.js";
import type { ResolvedConfig } from "../../config/types.js";
import type { CliContext } from "../context.js";

const MODE_REQUIRED =
  '"mode" is required in config. Set "mode": "mailbox" (inbox/outbox, safest), "mode": "mirror" (workspace→cloud), or "mode": "bisync" (bidirectional).';

function syncConfigured(ctx: CliContext, config: ResolvedConfig): boolean {
  if (config.sync.provider === "off") {
    ctx.io.stderr.write("Workspace sync not configured.\nSet \"provider\" and \"mode\" in the sync section of your config.\n");
    ctx.printJson({ ok: false, error: "Workspace sync not configured", code: "CONFIG_INVALID" });
    return false;
  }
  if (!config.sync.mode) {
    ctx.io.stderr.write(`${MODE_REQUIRED}\n`);
    ctx.printJson({ ok: false, error: MODE_REQUIRED, code: "CONFIG_INVALID" });
    return false;
  }
  return true;
}

/** Runs the configured sync mode once. */
export async function syncCommand(ctx: CliContext, options: { dryRun: boolean }): Promise<number> {
  const config = await ctx.config();
  if (!syncConfigured(ctx, config)) return 1;
  const { dryRun } = options;
  ctx.print(`Syncing ${config.sync.provider}:${config.sync.remotePath} (${config.sync.mode}${dryRun ? ", dry run" : ""})`);
  ctx.print(`Local: ${path.join(ctx.workspaceDir, config.sync.localPath)}`);
  const result = await runSync({ syncConfig: config, workspaceDir: ctx.workspaceDir, stateDir: ctx.stateDir, logger: ctx.logger, signal: ctx.signal, dryRun });
  ctx.printJson(result);
  if (!result.ok) {
    ctx.io.stderr.write(`Sync failed: ${result.error}\n`);
    return 1;
  }
  const verb = dryRun ? "Would " : "";
  ctx.print(dryRun ? "Dry run completed (nothing changed)" : "Sync completed");
  ctx.print(`  ${verb}upload: ${result.uploaded.length}`);
  ctx.print(`  ${verb}download: ${result.downloaded.length}`);
  ctx.print(`  ${verb}delete: ${result.deleted.length}`);
  if (result.conflicts.length) ctx.print(`  Conflicts (both copies kept): ${result.conflicts.join(", ")}`);
  if (result.inboxFiles.length) ctx.print(`  New in _inbox: ${result.inboxFiles.join(", ")}`);
  return 0;
}

/** Shows the last sync recorded on this host. */
export async function syncStatusCommand(ctx: CliContext): Promise<number> {
  const config = await ctx.config();
  const state = await readLastRun(ctx.stateDir, "sync");
  ctx.printJson({ provider: config.sync.provider, mode: config.sync.mode ?? null, remotePath: config.sync.remotePath, interval: config.sync.interval, ...state });
  ctx.print("Sync Status");
  ctx.print("");
  ctx.print(`  Provider: ${config.sync.provider}`);
  ctx.print(`  Mode: ${config.sync.mode ?? "(not set)"}`);
  ctx.print(`  Interval: ${config.sync.interval > 0 ? `${config.sync.interval}s` : "disabled"}`);
  if (state.lastRunAt) {
    ctx.print(`  Last sync: ${state.lastRunAt}`);
    ctx.print(`  Last sync OK: ${state.lastRunOk}`);
    if (state.lastResult) ctx.print(`  Last result: ${state.lastResult}`);
    if (!state.lastRunOk && state.lastError) ctx.print(`  Last error: ${state.lastError}`);
  } else {
    ctx.print("  Last sync: never (on this host)");
  }
  return 0;
}

/** Lists the files in the cloud folder. */
export async function listCommand(ctx: CliContext): Promise<number> {
  const config = await ctx.config();
  if (config.sync.provider === "off") {
    ctx.io.stderr.write("Workspace sync not configured.\n");
    return 1;
  }
  const listed = await listSyncRemote({ config, stateDir: ctx.stateDir, logger: ctx.logger, signal: ctx.signal });
  if (!listed.ok) {
    ctx.printJson(listed);
    ctx.io.stderr.write(`Error: ${listed.error}\n`);
    return 1;
  }
  const { remote, files } = listed;
  ctx.printJson({ ok: true, remote, files });
  if (files.length === 0) {
    ctx.print("No files in remote.");
    return 0;
  }
  ctx.print(remote);
  for (const f of files) ctx.print(`  ${f.path}`);
  ctx.print(`\n${files.length} files`);
  return 0;
}
