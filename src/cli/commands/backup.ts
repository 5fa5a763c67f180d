/** `workspace-sync backup now|list|restore|prune|status|verify`. Wording follows the plugin's CLI. */
import path from "node:path";
import { parseSnapshotName, runBackup, runRestore } from "../../backup/index.js";
import { findSnapshot } from "../../backup/find-snapshot.js";
import { listSnapshotsWithRetention } from "../../backup/list.js";
import { pruneBackup } from "../../backup/prune.js";
import { defaultRestoreFolder } from "../../backup/restore.js";
import { DEFAULT_BACKUP_INTERVAL_S } from "../../config/defaults.js";
import { verifySnapshots } from "../../backup/verify.js";
import { readLastRun } from "../../state/last-run.js";
import { errorMessage, toWorkspaceSyncError } from "../../errors.js";
import type { CliContext } from "../context.js";
import { formatBytes } from "../context.js";
import { printableName } from "../../util/printable.js";

/** `--require-authenticated` / `--allow-unauthenticated`. */
interface AuthOptions {
  requireAuthenticated: boolean;
  allowUnauthenticated: boolean;
}

/** `backup now`: one snapshot now. */
export async function backupNow(ctx: CliContext): Promise<number> {
  const config = await ctx.config();
  if (!config.backup?.enabled) {
    ctx.io.stderr.write("Backup not enabled. Add a backup block to your plugin config.\n");
    ctx.printJson({ ok: false, error: "Backup not enabled", code: "BACKUP_NOT_ENABLED" });
    return 1;
  }
  ctx.print("Creating backup snapshot...");
  const bar = ctx.progress("backup");
  const result = await runBackup({
    syncConfig: config,
    workspaceDir: ctx.workspaceDir,
    stateDir: ctx.stateDir,
    logger: ctx.logger,
    signal: ctx.signal,
    onProgress: (p) => bar.update(p),
  });
  bar.done();
  ctx.printJson(result);
  if (!result.ok) {
    ctx.io.stderr.write(`Backup failed: ${result.error}\n`);
    return 1;
  }
  ctx.print(`Backup complete: ${result.snapshotName}`);
  ctx.print(`Size: ${(result.sizeBytes / 1024 / 1024).toFixed(1)} MB`);
  ctx.print(`Encrypted: ${result.encrypted ? "yes" : "no"}`);
  const pruned = result.prune?.ok ? result.prune.deleted.filter((n) => parseSnapshotName(n) !== undefined).length : 0;
  if (pruned > 0) ctx.print(`Pruned: ${pruned} old snapshot(s)`);
  if (result.warnings.length > 0) {
    // As restic: exit 3 = a snapshot was made but some source data was not read as it was.
    ctx.io.stderr.write(`Warning: the snapshot is incomplete: ${result.warnings.length} file(s) changed while read or could not be read (see the warnings above)\n`);
    return 3;
  }
  return 0;
}

/** `backup list`: snapshots newest first, with the rule keeping each. */
export async function backupList(ctx: CliContext): Promise<number> {
  const config = await ctx.config();
  const result = await listSnapshotsWithRetention({ config, stateDir: ctx.stateDir, logger: ctx.logger, signal: ctx.signal });
  if (!result.ok) {
    ctx.printJson(result);
    ctx.io.stderr.write(`Failed: ${result.error}\n`);
    return 1;
  }
  ctx.printJson({
    ok: true,
    snapshots: result.snapshots.map((d) => ({ name: d.name, time: d.time.toISOString(), size: d.size, encrypted: d.encrypted, keptBy: d.keptBy, ...(d.notOurs === undefined ? {} : { notOurs: d.notOurs }) })),
  });
  if (result.snapshots.length === 0) {
    ctx.print("No snapshots found.");
    return 0;
  }
  ctx.print(`${result.snapshots.length} snapshot(s):\n`);
  for (const d of result.snapshots) {
    const keep = d.notOurs !== undefined ? `  [not ours, never pruned: ${printableName(d.notOurs)}]` : d.keptBy.length ? `  [${d.keptBy.join(", ")}]` : "  [would be pruned]";
    ctx.print(`  ${d.name}${d.encrypted ? " (encrypted)" : ""}  ${formatBytes(d.size)}${keep}`);
  }
  return 0;
}

/** `backup restore`: a snapshot into a staging folder. */
export async function backupRestore(
  ctx: CliContext,
  options: AuthOptions & { snapshot: string; to: string | undefined; dryRun: boolean; symlinks: "refuse" | "skip" | "allow" | undefined },
): Promise<number> {
  const config = await ctx.config();
  let name: string;
  try {
    name = await findSnapshot({ config, stateDir: ctx.stateDir, snapshotName: options.snapshot, logger: ctx.logger, signal: ctx.signal });
  } catch (err) {
    ctx.io.stderr.write(`Restore failed: ${errorMessage(err)}\n`);
    ctx.printJson({ ok: false, error: errorMessage(err), code: toWorkspaceSyncError(err).code });
    return 1;
  }
  const dest = options.to === undefined ? defaultRestoreFolder(ctx.stateDir, name) : path.resolve(options.to);
  if (options.dryRun) {
    ctx.print(`Would restore snapshot: ${name}`);
    ctx.print(`Destination: ${dest}`);
    ctx.print("(dry-run — no files changed)");
    ctx.printJson({ ok: true, dryRun: true, snapshotName: name, restoreTo: dest });
    return 0;
  }
  ctx.print(`Restoring snapshot: ${name}`);
  ctx.print(`Destination: ${dest}`);
  const bar = ctx.progress("restore");
  const result = await runRestore({
    syncConfig: config,
    workspaceDir: ctx.workspaceDir,
    stateDir: ctx.stateDir,
    snapshotName: name,
    restoreTo: dest,
    externalSymlinks: options.symlinks,
    ...authPolicy(options),
    logger: ctx.logger,
    signal: ctx.signal,
    onProgress: (p) => bar.update(p),
  });
  bar.done();
  ctx.printJson(result);
  if (!result.ok) {
    ctx.io.stderr.write(`Restore failed: ${result.error}\n`);
    return 1;
  }
  ctx.print(`\nRestore complete: ${result.snapshotName}`);
  ctx.print(`Files extracted to: ${result.restoredTo}`);
  if (result.authenticated) ctx.print("Authenticated: MAC verified (content and name as written)");
  else if (!result.verified) ctx.print("(not authenticated and no checksum was stored with this snapshot: content not verified)");
  for (const w of result.warnings) ctx.io.stderr.write(`Warning: ${w}\n`);
  return 0;
}

/** `backup prune`: applies the retention policy. */
export async function backupPrune(ctx: CliContext, options: { dryRun: boolean }): Promise<number> {
  const config = await ctx.config();
  const { dryRun } = options;
  const result = await pruneBackup({ config, stateDir: ctx.stateDir, logger: ctx.logger, signal: ctx.signal, dryRun });
  if (!result.ok && result.code === "BACKUP_NOT_ENABLED") {
    ctx.io.stderr.write("Backup not configured. Add a backup block to your plugin config.\n");
    return 1;
  }
  ctx.printJson(result);
  if (!result.ok) {
    ctx.io.stderr.write(`Prune failed: ${result.error}\n`);
    return 1;
  }
  ctx.print(`${dryRun ? "Would keep" : "Keeping"} ${result.keep.length} snapshot(s):`);
  for (const s of result.keep) ctx.print(`  keep   ${s.name}  [${(result.reasons[s.name] ?? []).join(", ")}]`);
  ctx.print(`${dryRun ? "Would prune" : "Pruned"} ${result.prune.length} snapshot(s):`);
  for (const s of result.prune) ctx.print(`  prune  ${s.name}`);
  if (result.ignored.length) ctx.print(`Ignored (not snapshot names, never deleted): ${result.ignored.map(printableName).join(", ")}`);
  for (const n of result.notOurs) ctx.print(`  not ours, never deleted: ${n.name} (${printableName(n.reason)})`);
  for (const f of result.failed) ctx.io.stderr.write(`Failed to delete ${f.name}: ${f.error}\n`);
  if (dryRun) ctx.print("(dry-run — nothing deleted)");
  return result.failed.length ? 1 : 0;
}

/** `backup status`: the last backup recorded on this host. */
export async function backupStatus(ctx: CliContext): Promise<number> {
  const config = await ctx.config();
  const state = await readLastRun(ctx.stateDir, "backup");
  ctx.printJson({ enabled: !!config.backup?.enabled, encrypted: !!config.backup?.encrypt, interval: config.backup?.interval ?? null, ...state });
  ctx.print("Backup Service Status");
  ctx.print("");
  ctx.print(`  Enabled: ${config.backup?.enabled ? "yes" : "no"}`);
  ctx.print(`  Encrypted: ${config.backup?.encrypt ? "yes" : "no"}`);
  ctx.print(`  Interval: ${config.backup?.interval ?? DEFAULT_BACKUP_INTERVAL_S}s`);
  if (state.lastRunAt) {
    ctx.print(`  Last backup: ${state.lastRunAt}`);
    ctx.print(`  Last backup OK: ${state.lastRunOk}`);
    if (state.lastSuccessAt) ctx.print(`  Last success: ${state.lastSuccessAt}${state.lastResult ? ` (${state.lastResult})` : ""}`);
    if (!state.lastRunOk && state.lastError) ctx.print(`  Last error: ${state.lastError}`);
  } else {
    ctx.print("  Last backup: never (on this host)");
  }
  return 0;
}

/** `backup verify`: checks snapshots end to end. */
export async function backupVerify(ctx: CliContext, options: AuthOptions & { all: boolean; snapshot: string }): Promise<number> {
  const config = await ctx.config();
  const snapshotName = options.all ? "all" : options.snapshot;
  const results = await verifySnapshots({ syncConfig: config, stateDir: ctx.stateDir, logger: ctx.logger, signal: ctx.signal, snapshotName, ...authPolicy(options) });
  ctx.printJson(results);
  if (!results.ok) {
    ctx.io.stderr.write(`Verify failed: ${results.error}\n`);
    return 1;
  }
  let bad = 0;
  for (const r of results.snapshots) {
    if (r.ok) {
      const how = r.authenticated ? " (MAC verified)" : r.checksum ? " (not authenticated: SHA-256 checked)" : " (not authenticated, no stored checksum: archive structure checked only)";
      ctx.print(`OK       ${r.snapshotName}${how}`);
    }
    else {
      bad++;
      ctx.print(`DAMAGED  ${r.snapshotName}: ${r.error}`);
    }
  }
  return bad ? 1 : 0;
}

/** The library's auth options: only those given (so `backup.requireAuthenticated` applies otherwise). */
function authPolicy(options: AuthOptions): { requireAuthenticated?: boolean; allowUnauthenticated?: boolean } {
  return {
    ...(options.requireAuthenticated ? { requireAuthenticated: true } : {}),
    ...(options.allowUnauthenticated ? { allowUnauthenticated: true } : {}),
  };
}
