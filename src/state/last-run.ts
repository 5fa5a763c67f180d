/**
 * What this host remembers about its last backup and last sync
 * (`<stateDir>/workspace-sync/last-<kind>.json`). The scheduler reads it so a restart does not back
 * up again before the interval is due; `status` commands show it.
 */
import path from "node:path";
import { readJsonFile, writeJsonFileAtomic } from "../util/json-file.js";
import { redactUrlCredentials } from "../util/url-credentials.js";

/** Which kind of run. */
export type RunKind = "backup" | "sync";

/** Persisted outcome of the last runs of one kind. */
export interface LastRunState {
  /** ISO time of the last attempt. */
  lastRunAt?: string;
  lastRunOk?: boolean;
  /** ISO time of the last success. */
  lastSuccessAt?: string;
  /** Last error message (cleared by a success). */
  lastError?: string;
  /** Short description of the last success (snapshot name, transfer counts). */
  lastResult?: string;
}

/** Path of the state file for `kind` under `stateDir`. */
export function lastRunPath(stateDir: string, kind: RunKind): string {
  return path.join(stateDir, "workspace-sync", `last-${kind}.json`);
}

/** Reads the state (empty when nothing was recorded). */
export async function readLastRun(stateDir: string, kind: RunKind): Promise<LastRunState> {
  return (await readJsonFile<LastRunState>(lastRunPath(stateDir, kind))) ?? {};
}

/** Records the outcome of one run. Credentials inside URLs in the texts are masked before saving. */
export async function recordRun(
  stateDir: string,
  kind: RunKind,
  at: Date,
  outcome: { ok: true; result?: string } | { ok: false; error: string },
): Promise<LastRunState> {
  const prev = await readLastRun(stateDir, kind);
  const next: LastRunState = outcome.ok
    ? { lastRunAt: at.toISOString(), lastRunOk: true, lastSuccessAt: at.toISOString(), ...(outcome.result ? { lastResult: redactUrlCredentials(outcome.result) } : {}) }
    : { ...prev, lastRunAt: at.toISOString(), lastRunOk: false, lastError: redactUrlCredentials(outcome.error) };
  await writeJsonFileAtomic(lastRunPath(stateDir, kind), next);
  return next;
}
