/**
 * The three mode runners. Each opens the workspace, runs `prepare` and `reconcile`, adds its own
 * step (the mailbox drain, the mirror ingest), saves the state only after a fully successful run
 * and cleans up this install's leftovers.
 */
import path from "node:path";
import { WorkspaceSyncError, abortError, errorMessage, toWorkspaceSyncError } from "../errors.js";
import { normalizeRemotePath } from "../providers/paths.js";
import { runIngest } from "./ingest-run.js";
import { drainOutbox, ensureMailboxFolders, formatInboxNotification, INBOX_DIR, OUTBOX_DIR } from "./mailbox.js";
import { prepare } from "./prepare.js";
import { reconcile, type Reconciled } from "./reconcile.js";
import { cleanUpLeftovers, ensureWorkspace, newState, saveRunState, success, type Prepared, type RunContext } from "./run-context.js";
import type { RemoteSignature, SkipNote, SyncRunResult } from "./types.js";
import { syncFailure } from "./types.js";

/** Mailbox: push the workspace (minus `_inbox`, `_outbox`), then drain the cloud `_outbox` into `_inbox`, even when the push failed. */
export async function runMailbox(ctx: RunContext): Promise<SyncRunResult> {
  const { logger } = ctx;
  await ensureWorkspace(ctx);
  if (!ctx.dryRun) await ensureMailboxFolders(ctx.provider, ctx.remoteDir, ctx.workspace, logger, ctx.signal, ctx.wfs);

  let pushError: WorkspaceSyncError | undefined;
  let push: Reconciled | undefined;
  let p: Prepared | undefined;
  const drainSkipped: SkipNote[] = [];
  logger.info(`[workspace-sync] Mailbox: pushing workspace → ${ctx.remoteLabel}`);
  try {
    p = await prepare(ctx);
    push = await reconcile(ctx, p);
    if (!ctx.dryRun) await saveRunState(ctx, newState(ctx, push.files), p.state, p.aside);
    logger.info("[workspace-sync] Mailbox push completed");
  } catch (err) {
    pushError = ctx.signal.aborted ? abortError(ctx.signal.reason) : toWorkspaceSyncError(err);
    logger.warn(`[workspace-sync] Mailbox push failed: ${pushError.message}`);
  }

  // The drain runs even when the push failed (it is what brings new files to the agent).
  let drainError: WorkspaceSyncError | undefined;
  let inboxFiles: string[] = [];
  if (!ctx.signal.aborted) {
    logger.info(`[workspace-sync] Mailbox: draining ${ctx.remoteLabel}/${OUTBOX_DIR} → ${path.join(ctx.workspace, INBOX_DIR)}`);
    try {
      inboxFiles = await drainOutbox({
        provider: ctx.provider,
        remoteDir: ctx.remoteDir,
        workspace: ctx.workspace,
        filter: ctx.filter,
        concurrency: ctx.concurrency,
        logger,
        dryRun: ctx.dryRun,
        signal: ctx.signal,
        wfs: ctx.wfs,
        token: ctx.token,
        onSkipped: (note) => drainSkipped.push(note),
      });
      logger.info("[workspace-sync] Mailbox drain completed");
    } catch (err) {
      drainError = ctx.signal.aborted ? abortError(ctx.signal.reason) : toWorkspaceSyncError(err);
      logger.warn(`[workspace-sync] Mailbox drain failed: ${drainError.message}`);
    }
  }
  if (inboxFiles.length > 0 && !ctx.dryRun && ctx.onInboxFiles) {
    try {
      await ctx.onInboxFiles(inboxFiles, formatInboxNotification(inboxFiles));
    } catch (err) {
      logger.warn(`[workspace-sync] Inbox notification error: ${errorMessage(err)}`);
    }
  }
  const error = pushError ?? drainError;
  if (error) return syncFailure(error);
  await cleanUpLeftovers(ctx, p);
  return success(ctx, push!.outcome, inboxFiles, [...push!.skipped, ...drainSkipped]);
}

/** Mirror: push the workspace, then (with `ingest`) copy new cloud files of the ingest folder in. */
export async function runMirror(ctx: RunContext): Promise<SyncRunResult> {
  const { logger } = ctx;
  await ensureWorkspace(ctx);
  logger.info(`[workspace-sync] Mirror: pushing workspace → ${ctx.remoteLabel}`);
  const p = await prepare(ctx);
  const part = await reconcile(ctx, p);
  logger.info("[workspace-sync] Mirror push completed");
  let ingested: Record<string, RemoteSignature> | undefined;
  const inboxFiles: string[] = [];
  if (ctx.settings.ingest) {
    const ingestDir = normalizeRemotePath(ctx.settings.ingestPath || "inbox");
    logger.info(`[workspace-sync] Mirror: ingesting ${ctx.remoteLabel}/${ingestDir} → ${path.join(ctx.workspace, ingestDir)}`);
    const result = await runIngest(ctx, p, ingestDir);
    part.skipped.push(...result.skipped);
    ingested = result.ingested;
    inboxFiles.push(...result.added);
    part.outcome.downloaded.push(...result.added);
    logger.info("[workspace-sync] Mirror ingest completed");
  }
  if (!ctx.dryRun) await saveRunState(ctx, newState(ctx, part.files, ingested), p.state, p.aside);
  await cleanUpLeftovers(ctx, p);
  return success(ctx, part.outcome, inboxFiles.sort(), part.skipped);
}

/** Bisync: both ways, against the state; no prior state is a merge without deletions. */
export async function runBisync(ctx: RunContext): Promise<SyncRunResult> {
  const { logger } = ctx;
  await ensureWorkspace(ctx);
  logger.info(`[workspace-sync] Running bisync: ${ctx.remoteLabel} ↔ ${ctx.workspace}`);
  const p = await prepare(ctx);
  if (!p.state) logger.info("[workspace-sync] Bisync: no prior state (first run or state lost): merging both sides without deleting");
  const part = await reconcile(ctx, p);
  if (!ctx.dryRun) await saveRunState(ctx, newState(ctx, part.files), p.state, p.aside);
  await cleanUpLeftovers(ctx, p);
  logger.info("[workspace-sync] Bisync completed");
  return success(ctx, part.outcome, [], part.skipped);
}
