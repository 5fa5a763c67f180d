/** `workspace-sync status`: provider, paths, connectivity and the last runs on this host. */
import path from "node:path";
import { probeBackupTarget } from "../../backup/probe.js";
import { listSyncRemote } from "../../sync/remote.js";
import { readLastRun } from "../../state/last-run.js";
import type { CliContext } from "../context.js";

/** Prints the status; exit 1 when a configured provider cannot be reached. */
export async function statusCommand(ctx: CliContext): Promise<number> {
  const config = await ctx.config();
  const report: Record<string, unknown> = {};
  let failed = false;
  ctx.print("Workspace Sync Status");
  ctx.print("");
  if (config.sync.provider === "off") {
    ctx.print("Provider: not configured");
    report.sync = { provider: "off" };
  } else {
    const local = path.join(ctx.workspaceDir, config.sync.localPath);
    ctx.print(`Provider: ${config.sync.provider}`);
    ctx.print(`Mode: ${config.sync.mode ?? "(not set)"}`);
    ctx.print(`Remote: ${config.sync.remotePath || "(provider root)"}`);
    ctx.print(`Local: ${local}`);
    if (ctx.configPath) ctx.print(`Config: ${ctx.configPath}`);
    const listed = await listSyncRemote({ config, stateDir: ctx.stateDir, logger: ctx.logger, signal: ctx.signal, check: true, countOnly: true });
    const connection = listed.ok ? "OK" : `FAILED (${listed.error})`;
    const files = listed.ok ? listed.count : undefined;
    if (!listed.ok) failed = true;
    ctx.print(`Connection: ${connection}`);
    if (files !== undefined) ctx.print(`Remote files: ${files}`);
    const last = await readLastRun(ctx.stateDir, "sync");
    ctx.print("");
    ctx.print("Background sync:");
    ctx.print(`  On session start: ${config.sync.onSessionStart ? "yes" : "no"}`);
    ctx.print(`  On session end: ${config.sync.onSessionEnd ? "yes" : "no"}`);
    ctx.print(`  Interval: ${config.sync.interval > 0 ? `${config.sync.interval}s` : "disabled"}`);
    if (last.lastRunAt) {
      ctx.print(`  Last sync: ${last.lastRunAt}`);
      ctx.print(`  Last sync OK: ${last.lastRunOk}`);
    }
    report.sync = { provider: config.sync.provider, mode: config.sync.mode ?? null, remotePath: config.sync.remotePath, localPath: local, connection, remoteFiles: files ?? null, last };
  }
  if (config.backup) {
    const last = await readLastRun(ctx.stateDir, "backup");
    const probe = await probeBackupTarget({ config, stateDir: ctx.stateDir, logger: ctx.logger, signal: ctx.signal });
    const connection = probe.ok ? "OK" : `FAILED (${probe.error})`;
    if (!probe.ok) failed = true;
    ctx.print("");
    ctx.print("Backup:");
    ctx.print(`  Enabled: ${config.backup.enabled ? "yes" : "no"}`);
    ctx.print(`  Provider: ${config.backup.provider}`);
    ctx.print(`  Encrypted: ${config.backup.encrypt ? "yes" : "no"}`);
    ctx.print(`  Interval: ${config.backup.interval}s`);
    ctx.print(`  Connection: ${connection}`);
    if (last.lastRunAt) {
      ctx.print(`  Last backup: ${last.lastRunAt}`);
      ctx.print(`  Last backup OK: ${last.lastRunOk}`);
    }
    report.backup = { enabled: config.backup.enabled, provider: config.backup.provider, encrypted: config.backup.encrypt, interval: config.backup.interval, connection, last };
  }
  ctx.printJson({ ok: !failed, ...report });
  return failed ? 1 : 0;
}
