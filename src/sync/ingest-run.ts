/**
 * Mirror ingest, carried out: cloud `<ingestDir>/` → workspace `<ingestDir>/`, additive, never
 * overwriting. The decisions are {@link planIngest}'s (`ingest.ts`); this file compares where the
 * plan asks and downloads.
 */
import { isLocalNameProblem, nameProblemReason } from "../util/safe-fs.js";
import { forEachLimit } from "../util/concurrency.js";
import { joinRemotePath } from "../providers/paths.js";
import { pairsToCompare } from "./compare.js";
import { remoteSignature } from "./deltas.js";
import { localNamer } from "./execute.js";
import { planIngest } from "./ingest.js";
import { comparerFor, type Prepared, type RunContext } from "./run-context.js";
import { downloadFile } from "./transfer.js";
import type { RemoteFile, RemoteSignature, SkipNote } from "./types.js";
import { pathRecord } from "./state.js";

/** What an ingest did: the cloud signatures now ingested, the new workspace names, the skips. */
export interface IngestOutcome {
  ingested: Record<string, RemoteSignature>;
  added: string[];
  skipped: SkipNote[];
}

/** Runs the mirror ingest of `ingestDir` over the run's listings (`p`). */
export async function runIngest(ctx: RunContext, p: Prepared, ingestDir: string): Promise<IngestOutcome> {
  const prefix = ctx.keyOf(`${ingestDir}/`);
  const remote = new Map<string, RemoteFile>();
  for (const k of p.remote.files.keys()) if (k.startsWith(prefix)) remote.set(k, p.remote.files.get(k)!);
  const prior = p.state?.ingested;
  let steps = planIngest(remote, p.local.files, prior);
  // Same-size local files may already hold the content: compare before downloading a duplicate.
  const check = steps.filter((s) => s.kind === "download" && p.local.files.get(s.path)?.size === remote.get(s.path)!.size).map((s) => s.path);
  if (check.length > 0) {
    const pairs = pairsToCompare(check, p.local.files, remote, undefined, { bisync: false, provider: ctx.provider });
    steps = planIngest(remote, p.local.files, prior, await comparerFor(ctx).findEqual(pairs));
  }
  const ingested: Record<string, RemoteSignature> = pathRecord();
  const added: string[] = [];
  const downloads = steps.filter((s) => s.kind === "download");
  for (const s of steps) {
    if (s.kind === "keep" && prior?.[s.path]) ingested[s.path] = prior[s.path]!;
    if (s.kind === "record") ingested[s.path] = remoteSignature(remote.get(s.path)!);
  }
  const skipped: SkipNote[] = [];
  if (ctx.dryRun) {
    return { ingested, added: downloads.map((s) => remote.get(s.path)!.path), skipped };
  }
  const listSource = ctx.provider.capabilities.listMtime === "source";
  const localNameFor = localNamer(p.local.files, ctx.keyOf, p.local.blocked);
  await forEachLimit(
    downloads,
    ctx.concurrency,
    async (s, _i, signal) => {
      const r = remote.get(s.path)!;
      const target = p.local.files.get(s.path)?.path ?? localNameFor(r.path);
      try {
        const { finalRel } = await downloadFile(ctx.provider, joinRemotePath(ctx.remoteDir, r.path), ctx.wfs!, ctx.token, target, {
          noClobber: true,
          mtimeMs: listSource ? r.mtimeMs : undefined,
          signal,
        });
        ingested[s.path] = remoteSignature(r);
        added.push(finalRel);
      } catch (err) {
        // Not recorded as ingested, so a later run tries again once the workspace can take it.
        if (ctx.signal.aborted || !isLocalNameProblem(err)) throw err;
        const reason = nameProblemReason(err);
        ctx.logger.warn(`[workspace-sync] Not ingesting ${r.path}: ${reason}`);
        skipped.push({ path: r.path, reason });
      }
    },
    ctx.signal,
  );
  return { ingested, added, skipped };
}
