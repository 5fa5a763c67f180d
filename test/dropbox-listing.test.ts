import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import type { Logger } from "../src/logger.js";
import { createDropboxProvider } from "../src/providers/dropbox/index.js";
import type { RemoteEntry, StorageProvider } from "../src/providers/types.js";
import { startDropboxFake, type DropboxFake } from "./support/dropbox-fake.js";

const quiet: Logger = { info() {}, warn() {}, error() {} };

async function listAll(provider: StorageProvider, dir: string, recursive = true): Promise<Map<string, RemoteEntry>> {
  const out = new Map<string, RemoteEntry>();
  for await (const e of provider.list(dir, { recursive })) out.set(e.path, e);
  return out;
}

function delta(fake: DropboxFake, before: Record<string, number>, endpoint: string): number {
  return (fake.calls[endpoint] ?? 0) - (before[endpoint] ?? 0);
}

describe("dropbox provider: listing with saved cursors", () => {
  let fake: DropboxFake;
  let stateDir: string;
  let token: string;

  before(async () => {
    fake = await startDropboxFake();
    token = fake.issueAccessToken();
    stateDir = await mkdtemp(join(tmpdir(), "dropbox-state-"));
    for (let i = 0; i < 4500; i++) fake.put(`/work/d${i % 7}/file-${i}.txt`, Buffer.from(`content ${i}`), new Date(Date.UTC(2025, 0, 1, 0, 0, i % 60)));
    fake.put("/other/x.txt", Buffer.from("x"));
  });
  after(async () => {
    await fake.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  const make = (): StorageProvider => createDropboxProvider({ token, fetch: fake.fetch }, { logger: quiet, stateDir });

  it("pages a full listing, then lists an unchanged folder with exactly one continue call", async () => {
    const provider = make();
    let snap = { ...fake.calls };
    const first = await listAll(provider, "work");
    assert.equal(first.size, 4500);
    assert.equal(delta(fake, snap, "files/list_folder"), 1);
    assert.ok(delta(fake, snap, "files/list_folder/continue") >= 2, "4 500 files + folders need 3 pages of 2 000");
    const e = first.get("d3/file-3.txt")!;
    assert.equal(e.size, "content 3".length);
    assert.equal(e.mtime?.toISOString(), "2025-01-01T00:00:03.000Z");
    assert.equal(e.hash, (await provider.stat("work/d3/file-3.txt"))?.hash);
    assert.ok(e.revision);
    assert.ok((await readdir(stateDir)).some((f) => f.endsWith(".json")), "cursor saved under stateDir");

    // A new provider instance (the next run) reuses the saved cursor.
    const next = make();
    snap = { ...fake.calls };
    const second = await listAll(next, "work");
    assert.equal(delta(fake, snap, "files/list_folder"), 0);
    assert.equal(delta(fake, snap, "files/list_folder/continue"), 1);
    assert.deepEqual([...second.keys()].sort(), [...first.keys()].sort());
    assert.deepEqual(second.get("d3/file-3.txt"), e);
  });

  it("picks up additions, changes and deletions through the cursor", async () => {
    const provider = make();
    await provider.write("work/d1/new.txt", Readable.from([Buffer.from("brand new")]));
    fake.put("/work/d2/file-2.txt", Buffer.from("changed content"));
    fake.remove("/work/d4/file-4.txt");
    fake.remove("/work/d5");
    const snap = { ...fake.calls };
    const listed = await listAll(provider, "work");
    assert.equal(delta(fake, snap, "files/list_folder"), 0);
    assert.equal(delta(fake, snap, "files/list_folder/continue"), 1);
    assert.equal(listed.get("d1/new.txt")?.size, 9);
    assert.equal(listed.get("d2/file-2.txt")?.size, "changed content".length);
    assert.equal(listed.has("d4/file-4.txt"), false);
    assert.equal([...listed.keys()].some((k) => k.startsWith("d5/")), false, "a deleted folder takes its files along");
    const truth = [...fake.files.keys()].filter((k) => k.startsWith("/work/")).map((k) => fake.files.get(k)!.path.slice("/work/".length));
    assert.deepEqual([...listed.keys()].sort(), truth.sort());
  });

  it("falls back to a full listing after a reset", async () => {
    const provider = make();
    fake.resetCursors();
    fake.put("/work/after-reset.txt", Buffer.from("r"));
    const snap = { ...fake.calls };
    const listed = await listAll(provider, "work");
    assert.equal(delta(fake, snap, "files/list_folder"), 1);
    assert.ok(listed.has("after-reset.txt"));
    const truth = [...fake.files.keys()].filter((k) => k.startsWith("/work/"));
    assert.equal(listed.size, truth.length);
    const again = { ...fake.calls };
    await listAll(provider, "work");
    assert.equal(delta(fake, again, "files/list_folder/continue"), 1);
    assert.equal(delta(fake, again, "files/list_folder"), 0);
  });

  it("keeps separate cursors per folder and per recursion, and in memory without a stateDir", async () => {
    const provider = createDropboxProvider({ token, fetch: fake.fetch }, { logger: quiet });
    const top = await listAll(provider, "work", false);
    assert.deepEqual([...top.keys()], ["after-reset.txt"]);
    const other = await listAll(provider, "other");
    assert.deepEqual([...other.keys()], ["x.txt"]);
    const snap = { ...fake.calls };
    assert.deepEqual([...(await listAll(provider, "other")).keys()], ["x.txt"]);
    assert.equal(delta(fake, snap, "files/list_folder/continue"), 1);
    assert.equal(delta(fake, snap, "files/list_folder"), 0);
  });

  it("waitForChanges long-polls the saved cursor", async () => {
    const provider = createDropboxProvider({ token, fetch: fake.fetch }, { logger: quiet, stateDir });
    assert.equal(await provider.waitForChanges("poll"), true, "never listed: list to find out");
    fake.put("/poll/a.txt", Buffer.from("a"));
    await listAll(provider, "poll");
    assert.equal(await provider.waitForChanges("poll", { timeoutSeconds: 1 }), false);
    const waiting = provider.waitForChanges("poll", { timeoutSeconds: 30 });
    setTimeout(() => fake.put("/poll/b.txt", Buffer.from("b")), 100);
    assert.equal(await waiting, true);
    assert.equal((await listAll(provider, "poll")).size, 2);
    assert.ok((fake.calls["files/list_folder/longpoll"] ?? 0) >= 2);
  });

  it("a folder that disappears lists as empty", async () => {
    const provider = make();
    fake.put("/gone/a.txt", Buffer.from("a"));
    assert.equal((await listAll(provider, "gone")).size, 1);
    fake.remove("/gone");
    assert.equal((await listAll(provider, "gone")).size, 0);
    assert.equal((await listAll(provider, "never")).size, 0);
  });
});
