/**
 * Last-run records are written by the library, whoever starts the run: a sync through the
 * `WorkspaceSync` class shows in `workspace-sync sync status` (a separate CLI process reading the
 * state folder), a failed one records its error with credentials masked, and a dry run records nothing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runNode } from "./support/run-node.js";
import { WorkspaceSync } from "../src/manager/index.js";
import { readLastRun } from "../src/state/last-run.js";
import { sampleAgent, tempDir } from "./support/tree.js";

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "src", "cli", "main.js");

const cli = (args: string[]) => runNode(MAIN, args);

test("a sync run by WorkspaceSync is recorded and shows in `sync status`; a dry run is not recorded", async (t) => {
  const { dir, cleanup } = await tempDir("ws-last-run-");
  t.after(cleanup);
  const { workspaceDir, stateDir } = await sampleAgent(dir);
  const config = { sync: { provider: "local", mode: "mailbox", local: { root: path.join(dir, "cloud") } } };
  const configFile = path.join(dir, "ws.json");
  await fsp.writeFile(configFile, JSON.stringify(config));
  const ws = new WorkspaceSync({ config, workspaceDir, stateDir });

  const dry = await ws.syncNow({ dryRun: true });
  assert.equal(dry.ok, true, dry.ok ? "" : dry.error);
  assert.deepEqual(await readLastRun(stateDir, "sync"), {}, "a dry run records nothing");

  const before = Date.now();
  const result = await ws.syncNow();
  assert.equal(result.ok, true, result.ok ? "" : result.error);
  await ws.stop();
  const state = await readLastRun(stateDir, "sync");
  assert.equal(state.lastRunOk, true);
  assert.ok(state.lastRunAt && Date.parse(state.lastRunAt) >= before - 1000);
  assert.match(state.lastResult ?? "", /^\d+ up, 0 down, 0 deleted$/);

  const status = await cli(["--config", configFile, "--workspace", workspaceDir, "--state-dir", stateDir, "sync", "status", "--json"]);
  assert.equal(status.code, 0, status.stderr);
  const shown = JSON.parse(status.stdout) as { lastRunOk: boolean; lastRunAt: string; lastResult: string };
  assert.equal(shown.lastRunOk, true);
  assert.equal(shown.lastRunAt, state.lastRunAt);
  assert.equal(shown.lastResult, state.lastResult);
});

test("a failed sync through WorkspaceSync records its error without the credentials", async (t) => {
  const { dir, cleanup } = await tempDir("ws-last-run-fail-");
  t.after(cleanup);
  const { workspaceDir, stateDir } = await sampleAgent(dir);
  const password = "Sync-Pw-9f3Kq";
  const secretKey = "wJalrXUtnFEMIK7MDENGbPxRfiCYSECRET";
  // Nothing listens on port 1: the sync fails quickly with a network error naming the endpoint.
  const config = {
    sync: { provider: "s3", mode: "mailbox", remotePath: "bucket/share", s3: { endpoint: `http://AKIAUSER:${password}@127.0.0.1:1`, region: "us-east-1", secretAccessKey: secretKey, maxRetrySeconds: 1 } },
  };
  const ws = new WorkspaceSync({ config, workspaceDir, stateDir });
  const result = await ws.syncNow();
  await ws.stop();
  assert.equal(result.ok, false);
  const state = await readLastRun(stateDir, "sync");
  assert.equal(state.lastRunOk, false);
  assert.ok(state.lastError, "the error is recorded");
  const raw = await fsp.readFile(path.join(stateDir, "workspace-sync", "last-sync.json"), "utf8");
  for (const secret of [password, secretKey]) assert.ok(!raw.includes(secret), `a secret is in last-sync.json: ${raw}`);
});
