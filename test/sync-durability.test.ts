/**
 * Durability of the local provider's small copies (README, Choices and known limits): renamed into
 * place complete, flushed by the OS; the state records the boot, and a state from another boot is
 * not trusted (a merge: nothing deleted, both copies kept where they differ).
 */
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { createLocalProvider } from "../src/providers/local/index.js";
import { runSyncWithProvider } from "../src/sync/run.js";
import { statePathFor } from "../src/sync/state.js";
import type { SyncState } from "../src/sync/types.js";
import { bootId } from "../src/util/boot-id.js";
import { syncSettings } from "./sync-suite.js";
import { tempDir, writeTree } from "./support/tree.js";

test("a state written before a restart is not trusted: the next run merges and deletes nothing", async (t) => {
  const { dir, cleanup } = await tempDir("ws-durable-");
  t.after(cleanup);
  const ws = path.join(dir, "ws");
  const cloud = path.join(dir, "cloud");
  const stateDir = path.join(dir, "state");
  await writeTree(ws, { "a.txt": "a", "sub/b.txt": "b" });
  const provider = createLocalProvider({ root: cloud });
  const lines: string[] = [];
  const logger = { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) };
  const run = () => runSyncWithProvider({ settings: syncSettings({ mode: "bisync", remotePath: "share", exclude: [] }), provider, workspaceDir: ws, stateDir, logger });

  const first = await run();
  assert.ok(first.ok);
  assert.deepEqual(first.uploaded, ["a.txt", "sub/b.txt"]);
  const file = statePathFor(stateDir, { description: provider.description, remotePath: "share", workspace: ws });
  const state = JSON.parse(await fsp.readFile(file, "utf8")) as SyncState;
  if (bootId() === undefined) {
    // No boot id on this OS: small copies are flushed one by one and the state carries none.
    assert.equal(provider.capabilities.lazyFlush, undefined);
    assert.equal(state.bootId, undefined);
    return;
  }
  assert.equal(provider.capabilities.lazyFlush, true);
  assert.equal(state.bootId, bootId());

  // As if the machine restarted since, and a small copy had not reached the disk: empty in the cloud.
  await fsp.writeFile(file, JSON.stringify({ ...state, bootId: "00000000-0000-0000-0000-000000000000" }));
  // (Its time was set before the rename, so it is the workspace copy's.)
  const cloudA = path.join(cloud, "share", "a.txt");
  const { mtime } = await fsp.stat(cloudA);
  await fsp.writeFile(cloudA, "");
  await fsp.utimes(cloudA, mtime, mtime);
  await fsp.rm(path.join(ws, "sub", "b.txt"));
  const again = await run();
  assert.ok(again.ok, !again.ok ? again.error : "");
  assert.ok(lines.some((l) => l.includes("restarted since the last sync")), lines.join("\n"));
  // Nothing deleted (b.txt comes back from the cloud), and the workspace copy of a.txt is kept.
  assert.deepEqual(again.deleted, []);
  assert.equal(await fsp.readFile(path.join(ws, "sub", "b.txt"), "utf8"), "b");
  // (A failure here has been seen once under heavy disk load and not reproduced: the details say which side won and why.)
  const detail = `times: cloud copy set to ${mtime.toISOString()}; run: ${JSON.stringify(again)}; log:\n${lines.join("\n")}`;
  assert.equal(await fsp.readFile(path.join(ws, "a.txt"), "utf8"), "a", detail);
  assert.equal(await fsp.readFile(cloudA, "utf8"), "a", `the workspace copy wins the tie and goes back up; ${detail}`);
  const saved = JSON.parse(await fsp.readFile(file, "utf8")) as SyncState;
  assert.equal(saved.bootId, bootId());
});
