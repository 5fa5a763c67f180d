/**
 * The push (mailbox, mirror) or bisync part of a run, after `prepare`: compare where sameness is
 * unknown, plan, check safety, then execute (or report, on a dry run).
 */
import { setTimeout as timerTurn } from "node:timers/promises";
import { throwIfAborted } from "../errors.js";
import { forEachLimit } from "../util/concurrency.js";
import { pairsToCompare, type ContentComparer } from "./compare.js";
import { dryRunReport } from "./dry-run.js";
import { executePlan, type ExecuteOutcome } from "./execute.js";
import { conflictWinner, contentCheckCandidates, planSync } from "./plan.js";
import { comparerFor, protectedPrefixes, type Prepared, type RunContext } from "./run-context.js";
import { checkSafety } from "./safety.js";
import { unchangedOnBothSides } from "./file-index.js";
import { CompactStateFiles, mergedStateFiles, type StateFiles } from "./state-files.js";
import type { SkipNote, SyncAction } from "./types.js";

/** What the push or bisync part did. */
export interface Reconciled {
  outcome: ExecuteOutcome;
  /** The new state's files (saved after a fully successful run). */
  files: StateFiles;
  /** Every file left alone, with why. */
  skipped: SkipNote[];
}

/** Plans, checks and executes the push or bisync part. */
export async function reconcile(ctx: RunContext, p: Prepared): Promise<Reconciled> {
  // The passes over every key from the end of the listings to the executor (the listings' and the
  // state's own, the candidates, the plan, the rest) blocked a host's timers and I/O for 0.2–0.4 s
  // at 200 000 files as one stretch: the loop gets a turn before the candidates, before the plan
  // and after it. A timer, not setImmediate: an immediate scheduled from an I/O callback runs
  // before the loop reaches the timers again, and what follows its await with it.
  const hostTurn = async (): Promise<void> => {
    await timerTurn(0);
    throwIfAborted(ctx.signal);
  };
  if (p.unchanged) {
    // Every folder of both sides as the state records it (`prepare.ts`): no plan to make.
    // (Clashes among files of the protected folders, which always keep their records, are reported as on every run.)
    const conflicts = [...p.local.caseClashes, ...p.remote.caseClashes];
    const outcome: ExecuteOutcome = { uploaded: [], downloaded: [], deleted: [], conflicts, files: new CompactStateFiles(), skipped: [] };
    return { outcome, files: p.priorFiles!, skipped: [...p.local.skipped, ...p.remote.skipped] };
  }
  await hostTurn();
  const prefixes = protectedPrefixes(ctx);
  const inScope = (k: string): boolean => !prefixes.some((x) => k.startsWith(x));
  // Files unchanged on both sides are left out of the plan and keep their state entries.
  const settled = p.priorFiles ? unchangedOnBothSides(p.local.files, p.remote.files) : undefined;
  const candidates = contentCheckCandidates(p.local.files, p.remote.files, p.priorFiles, settled).filter(inScope);
  const comparer = comparerFor(ctx);
  const equalContent = await comparer.findEqual(pairsToCompare(candidates, p.local.files, p.remote.files, p.priorFiles, { bisync: ctx.mode === "bisync", provider: ctx.provider }));
  await hostTurn();
  const plan = planSync(p.local.files, p.remote.files, p.priorFiles, {
    mode: ctx.mode,
    conflictResolve: ctx.settings.conflictResolve ?? "newer",
    noDeletes: p.noDeletes,
    equalContent,
    protectedPrefixes: prefixes,
    keyOf: ctx.keyOf,
    settled,
    reserved: [...(p.local.blocked ?? []), ...(p.remote.blocked ?? [])].map(ctx.keyOf),
  });
  await useSourceMtimes(ctx, p, plan.actions, comparer);
  await hostTurn();
  const count = (keys: Iterable<string>, size: number): number => {
    if (prefixes.length === 0) return size;
    let n = 0;
    for (const k of keys) if (inScope(k)) n++;
    return n;
  };
  const priorKeys = p.priorFiles ? p.priorFiles.keys() : [];
  // Files of folders set aside unchanged on both sides are in neither listing nor the prior files read (never under a protected prefix).
  const aside = p.aside?.count ?? 0;
  const unsafe = checkSafety({
    actions: plan.actions,
    localCount: count(p.local.files.keys(), p.local.files.size) + aside,
    remoteCount: count(p.remote.files.keys(), p.remote.files.size) + aside,
    stateCount: count(priorKeys, priorKeys.length) + aside,
    maxDelete: ctx.settings.maxDelete ?? 50,
    workspace: ctx.workspace,
    remote: ctx.remoteLabel,
    statePath: ctx.stateFile,
  });
  if (unsafe) throw unsafe;

  const skipped: SkipNote[] = [...p.local.skipped, ...p.remote.skipped];
  for (const a of plan.actions) if (a.kind === "skip") skipped.push({ path: a.path, reason: a.reason });
  const caseConflicts = [...p.local.caseClashes, ...p.remote.caseClashes];

  if (ctx.dryRun) {
    const report = dryRunReport(plan.actions, p.local.files, p.remote.files, caseConflicts);
    for (const line of report.lines) ctx.logger.info(line);
    return { outcome: report.outcome, files: report.outcome.files, skipped };
  }

  // (The executor takes the actions: the plan is empty afterwards.)
  const outcome = await executePlan(plan, {
    provider: ctx.provider,
    remoteDir: ctx.remoteDir,
    workspace: ctx.workspace,
    wfs: ctx.wfs!,
    token: ctx.token,
    local: p.local.files,
    leftAlone: p.local.blocked,
    remote: p.remote.files,
    prior: p.priorFiles,
    keyOf: ctx.keyOf,
    concurrency: ctx.concurrency,
    logger: ctx.logger,
    signal: ctx.signal,
  });
  // Files left out of the plan as unchanged on both sides keep their entries. (Nothing to do and
  // every entry settled: the state's own files are the new ones, and the file is not rewritten.
  // An entry not settled but without an action, a file gone on both sides, is dropped: it would
  // read a later copy of that name as a deletion.)
  const files = mergedStateFiles(outcome.files, p.priorFiles, settled);
  outcome.conflicts.push(...caseConflicts);
  skipped.push(...outcome.skipped);
  return { outcome, files, skipped };
}

/**
 * `newer` conflicts on backends whose listings give the upload time (S3): the time the cloud copy
 * was edited is the source mtime stored with the object (this tool and rclone both store it), so
 * each conflicting file is looked up once (the comparer's `stat()`, shared with the comparison) and
 * the winner decided on that instead.
 */
async function useSourceMtimes(ctx: RunContext, p: Prepared, actions: SyncAction[], comparer: ContentComparer): Promise<void> {
  const caps = ctx.provider.capabilities;
  if (caps.listMtime !== "upload" || !caps.metadata || (ctx.settings.conflictResolve ?? "newer") !== "newer") return;
  const conflicts = actions.map((a, i) => [a, i] as const).filter(([a]) => a.kind === "conflict");
  await forEachLimit(
    conflicts,
    ctx.concurrency,
    async ([a, i], _j, signal) => {
      if (a.kind !== "conflict") return;
      const l = p.local.files.get(a.path);
      const r = p.remote.files.get(a.path);
      if (!l || !r) return;
      const st = await comparer.withSourceTime(r, signal);
      if (st?.mtimeNs === undefined) return;
      actions[i] = { ...a, winner: conflictWinner(l, st, "newer") };
    },
    ctx.signal,
  );
}
