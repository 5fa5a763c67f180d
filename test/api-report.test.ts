/**
 * The checked-in API report is the public API: regenerate it with `npm run docs` (scripts/gen-api.mjs)
 * and review the diff. This fails when an export is added, removed or changes its signature unnoticed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

test("api/workspace-sync.api.md matches the package's exports (run: npm run docs)", async () => {
  const { apiReport } = (await import(pathToFileURL(path.join(root, "scripts", "api-report.mjs")).href)) as { apiReport: (root: string) => string };
  const report = apiReport(root);
  assert.equal(readFileSync(path.join(root, "api", "workspace-sync.api.md"), "utf8"), report);
});

test("internals stay out of the package root", async () => {
  const api = (await import("../src/index.js")) as Record<string, unknown>;
  for (const internal of ["listLocal", "saveState", "acquireLock", "isoWeek", "dayKey", "decideInterval", "loadState", "createFilter", "throwIfAborted"]) {
    assert.equal(internal in api, false, `${internal} is exported from the package root`);
  }
  for (const documented of ["runBackup", "listBackupSnapshots", "runRestore", "verifySnapshots", "planRetention", "pruneSnapshots", "runSync", "planSync", "WorkspaceSync", "startBackupManager", "triggerImmediateSync", "createProvider", "resolveConfig", "loadConfigFile", "WorkspaceSyncError"]) {
    assert.equal(typeof api[documented], "function", `${documented} is exported from the package root`);
  }
});
