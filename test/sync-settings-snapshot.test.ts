/**
 * A run uses the settings as they were when it started. The OpenClaw host hands the plugin its own
 * config object, which a config reload can change while a run is under way: a run that read some
 * settings before its listings and others after acted on a mix (a mirror listed with `ingest` on
 * and skipped the ingest; a bisync allowed its deletions, then refused them on a limit changed since).
 */
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import type { ListOptions, RemoteEntry, StorageProvider } from "../src/providers/types.js";
import { runSyncWithProvider } from "../src/sync/run.js";
import { localBisync, syncSettings } from "./sync-suite.js";

/** `provider`, whose listings call `onList` first (the host changing its config mid-run). */
function listingHook(provider: StorageProvider, onList: () => void): StorageProvider {
  return {
    ...provider,
    list(dir: string, options?: ListOptions): AsyncIterable<RemoteEntry> {
      onList();
      return provider.list(dir, options);
    },
  };
}

test("a mirror keeps the settings it started with: ingest turned off mid-run changes nothing in that run", async (t) => {
  const { ws, cloudRoot, stateDir, provider } = await localBisync(t, "wsync-snapshot-");
  await fsp.writeFile(path.join(ws, "a.txt"), "a");
  await provider.write("share/inbox/drop.txt", Readable.from([Buffer.from("dropped by the user")]));
  const settings = syncSettings({ mode: "mirror", ingest: true, ingestPath: "inbox", maxDelete: 100 });
  const first = await runSyncWithProvider({ settings, provider, workspaceDir: ws, stateDir });
  assert.ok(first.ok, JSON.stringify(first));
  assert.deepEqual(first.downloaded, ["inbox/drop.txt"]);

  await provider.write("share/inbox/new.txt", Readable.from([Buffer.from("dropped since")]));
  await fsp.writeFile(path.join(ws, "b.txt"), "b");
  const hooked = listingHook(provider, () => {
    settings.ingest = false;
  });
  const r = await runSyncWithProvider({ settings, provider: hooked, workspaceDir: ws, stateDir });
  assert.ok(r.ok, JSON.stringify(r));
  assert.deepEqual(r.deleted, []);
  assert.deepEqual(r.uploaded, ["b.txt"]);
  assert.deepEqual(r.downloaded, ["inbox/new.txt"]);
  for (const [name, text] of [["drop.txt", "dropped by the user"], ["new.txt", "dropped since"]]) {
    assert.equal(await fsp.readFile(path.join(cloudRoot, "share", "inbox", name!), "utf8"), text);
    assert.equal(await fsp.readFile(path.join(ws, "inbox", name!), "utf8"), text);
  }
});

test("a bisync keeps the delete limit it started with", async (t) => {
  const { ws, stateDir, provider, settings } = await localBisync(t, "wsync-snapshot-");
  for (const n of ["a", "b", "c", "d"]) await fsp.writeFile(path.join(ws, `${n}.txt`), n);
  assert.ok((await runSyncWithProvider({ settings, provider, workspaceDir: ws, stateDir })).ok);
  for (const n of ["a", "b", "c"]) await fsp.rm(path.join(ws, `${n}.txt`));
  settings.maxDelete = 100;
  const hooked = listingHook(provider, () => {
    settings.maxDelete = 0;
  });
  const r = await runSyncWithProvider({ settings, provider: hooked, workspaceDir: ws, stateDir });
  assert.ok(r.ok, JSON.stringify(r));
  assert.deepEqual([...(r.deleted ?? [])].sort(), ["a.txt", "b.txt", "c.txt"]);
});
