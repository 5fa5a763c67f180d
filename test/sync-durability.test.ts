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
import { setFileTimes } from "../src/util/mtime.js";
import { syncSettings } from "./sync-suite.js";
import { tempDir, writeTree } from "./support/tree.js";

test("a state written before a restart is not trusted: the next run merges and deletes nothing", async (t) => {
  const { dir, cleanup } = await tempDir("ws-durable-");
  t.after(cleanup);
  const ws = path.join(dir, "ws");
  const cloud = path.join(dir, "cloud");
  const stateDir = path.join(dir, "state");
  await writeTree(ws, { "a.txt": "a", "sub/b.txt": "b" });
  // A time 0.9 ms past a whole millisecond: the case a millisecond-rounded copy of it gets wrong.
  await setFileTimes(path.join(ws, "a.txt"), BigInt(Date.now() - 60_000) * 1_000_000n + 900_000n);
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
  // (Its time was set before the rename, so it is the workspace copy's.) Kept to the nanosecond:
  // `stat().mtime` is rounded to the nearest millisecond, up to 0.5 ms after the workspace copy's
  // time, which made the cloud copy the newer one whenever the clock's sub-millisecond part was
  // past the half (the test failed in runs clustered in time).
  const cloudA = path.join(cloud, "share", "a.txt");
  const { mtimeNs } = await fsp.stat(cloudA, { bigint: true });
  await fsp.writeFile(cloudA, "");
  await setFileTimes(cloudA, mtimeNs);
  await fsp.rm(path.join(ws, "sub", "b.txt"));
  const again = await run();
  assert.ok(again.ok, !again.ok ? again.error : "");
  assert.ok(lines.some((l) => l.includes("restarted since the last sync")), lines.join("\n"));
  // Nothing deleted (b.txt comes back from the cloud), and the workspace copy of a.txt is kept.
  assert.deepEqual(again.deleted, []);
  assert.equal(await fsp.readFile(path.join(ws, "sub", "b.txt"), "utf8"), "b");
  const detail = `run: ${JSON.stringify(again)}; log:\n${lines.join("\n")}`;
  assert.equal(await fsp.readFile(path.join(ws, "a.txt"), "utf8"), "a", detail);
  assert.equal(await fsp.readFile(cloudA, "utf8"), "a", `the workspace copy wins the tie and goes back up; ${detail}`);
  const saved = JSON.parse(await fsp.readFile(file, "utf8")) as SyncState;
  assert.equal(saved.bootId, bootId());
});
