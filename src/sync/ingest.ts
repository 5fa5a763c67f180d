/**
 * Mirror ingest planning: files under the cloud `<ingestPath>/` are copied into the workspace's
 * `<ingestPath>/`, additively. Pure.
 */
import { remoteChanged, sameContent } from "./deltas.js";
import type { LocalFile, RemoteFile, RemoteSignature } from "./types.js";

/** One ingest decision for a cloud file (keys are workspace-relative, e.g. `inbox/a.pdf`). */
export type IngestStep =
  | { kind: "download"; path: string; reason: string }
  | { kind: "record"; path: string }
  | { kind: "keep"; path: string };

/**
 * Decides what to do with each cloud file under the ingest folder:
 * - already ingested at this cloud version (in `ingested`) → keep (even if the user since deleted or
 *   edited the local copy: ingest never re-adds or overwrites);
 * - the same content is already in the workspace → record it as ingested;
 * - otherwise → download; the executor never overwrites, an existing different file makes the new
 *   one land as `name (1).ext`.
 */
export function planIngest(
  remote: ReadonlyMap<string, RemoteFile>,
  local: ReadonlyMap<string, LocalFile>,
  ingested: Readonly<Record<string, RemoteSignature>> | undefined,
  equalContent?: ReadonlySet<string>,
): IngestStep[] {
  const steps: IngestStep[] = [];
  for (const key of [...remote.keys()].sort()) {
    const r = remote.get(key)!;
    const prior = ingested?.[key];
    if (prior && !remoteChanged(r, prior)) {
      steps.push({ kind: "keep", path: key });
      continue;
    }
    const l = local.get(key);
    if (l && sameContent(l, r, equalContent, key)) {
      steps.push({ kind: "record", path: key });
      continue;
    }
    steps.push({ kind: "download", path: key, reason: prior ? "changed in the cloud ingest folder" : l ? "new in the cloud ingest folder (a different local file has that name)" : "new in the cloud ingest folder" });
  }
  return steps;
}

/** `a.pdf` → `a (n).pdf` (the suffix goes before the last extension of the file name). */
export function numberedName(relPath: string, n: number): string {
  const slash = relPath.lastIndexOf("/");
  const dir = relPath.slice(0, slash + 1);
  const base = relPath.slice(slash + 1);
  const dot = base.lastIndexOf(".");
  if (dot <= 0) return `${dir}${base} (${n})`;
  return `${dir}${base.slice(0, dot)} (${n})${base.slice(dot)}`;
}
