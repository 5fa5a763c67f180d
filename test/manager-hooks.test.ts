import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock, WorkspaceSync } from "../src/manager/index.js";
import { formatInboxNotification } from "../src/sync/index.js";
import { failedSync, fakeSync, okSync, recordingLogger, removeDir, settle, tempDir } from "./manager-helpers.js";

const S = 1000;

async function setup(t: { after(fn: () => Promise<void>): void }, sync: Record<string, unknown>, extra: { onInboxFiles?: (f: string[], text: string) => void | Promise<void> } = {}) {
  const dir = await tempDir("hooks");
  const clock = new ManualClock(Date.UTC(2026, 3, 1));
  const log = recordingLogger();
  const fake = fakeSync();
  const ws = new WorkspaceSync({
    config: { sync: { provider: "local", local: { root: "/nonexistent-bucket" }, mode: "mailbox", ...sync } },
    workspaceDir: dir,
    stateDir: dir,
    logger: log,
    clock,
    operations: { runSync: fake.fn },
    onInboxFiles: extra.onInboxFiles,
  });
  t.after(async () => {
    await ws.stop();
    await removeDir(dir);
  });
  return { ws, clock, log, fake };
}

test("session start runs the mode's full sync (runSync) when sync.onSessionStart is on", async (t) => {
  const { ws, log, fake } = await setup(t, { onSessionStart: true });
  fake.state.autoResult = okSync();
  const out = await ws.onSessionStart();
  assert.equal(out.ran, true);
  assert.equal(fake.calls.length, 1);
  assert.equal(fake.calls[0]!.params.dryRun, false);
  assert.ok(log.text("info").includes("[workspace-sync] triggered on session start (mode: mailbox)"));
  assert.ok(log.text("info").includes("[workspace-sync] session start sync completed"));
  assert.equal(ws.status().sync.syncCount, 1);
});

test("session hooks that are off in config do nothing", async (t) => {
  const { ws, fake } = await setup(t, { onSessionStart: false, onSessionEnd: false });
  assert.deepEqual(await ws.onSessionStart(), { ran: false, reason: "disabled" });
  assert.deepEqual(await ws.onSessionEnd(), { ran: false, reason: "disabled" });
  assert.equal(fake.calls.length, 0);
});

test("missing mode: the hook warns and skips", async (t) => {
  const { ws, log, fake } = await setup(t, { mode: undefined, onSessionStart: true, onSessionEnd: true });
  assert.deepEqual(await ws.onSessionStart(), { ran: false, reason: "no-mode" });
  assert.deepEqual(await ws.onSessionEnd(), { ran: false, reason: "no-mode" });
  assert.ok(log.text("warn").includes("[workspace-sync] mode not set, skipping session start sync"));
  assert.ok(log.text("warn").includes("[workspace-sync] mode not set, skipping session end sync"));
  assert.equal(fake.calls.length, 0);
});

test("a hook waits for a running sync, then runs its own; never in parallel", async (t) => {
  const { ws, fake, log, clock } = await setup(t, { onSessionEnd: true, interval: 300 });
  await ws.start();
  await clock.advance(5 * S); // the periodic sync starts and stays running
  await settle();
  assert.equal(fake.calls.length, 1);
  let done = false;
  const hook = ws.onSessionEnd().then((o) => {
    done = true;
    return o;
  });
  await clock.advance(20 * S); // within the 30 s wait
  await settle();
  assert.equal(done, false, "the hook is still waiting");
  assert.equal(fake.calls.length, 1, "and has not started a second sync");
  fake.calls[0]!.resolve(okSync());
  await settle();
  assert.equal(fake.calls.length, 2, "the hook's sync starts after the running one ended");
  fake.calls[1]!.resolve(failedSync("cloud said no"));
  const out = await hook;
  assert.equal(out.ran, true);
  assert.equal(out.ran && out.result.ok, false);
  assert.ok(log.text("error").includes("[workspace-sync] sync failed: cloud said no"));
  assert.equal(fake.state.maxConcurrent, 1);
  const st = ws.status().sync;
  assert.equal(st.syncCount, 2);
  assert.equal(st.errorCount, 1);
  assert.equal(st.lastSyncOk, false);
});

test("a hook skips with a log line when the running sync outlasts the wait", async (t) => {
  const { ws, fake, log, clock } = await setup(t, { onSessionStart: true });
  const first = ws.syncNow();
  await settle();
  assert.equal(fake.calls.length, 1);
  const hook = ws.onSessionStart();
  await clock.advance(30 * S);
  assert.deepEqual(await hook, { ran: false, reason: "busy" });
  assert.ok(log.text("info").includes("[workspace-sync] sync already in progress, skipping session start trigger"));
  assert.equal(fake.calls.length, 1, "no second sync");
  assert.equal(clock.pendingTimers(), 0, "the wait timer was cleared");
  fake.calls[0]!.resolve(okSync());
  await first;
  await settle();
  assert.equal(fake.calls.length, 1, "the skipped hook does not run later either");
});

test("several hooks waiting on one sync run one after another, never together", async (t) => {
  const { ws, fake } = await setup(t, { onSessionStart: true, onSessionEnd: true });
  const first = ws.syncNow();
  await settle();
  const h1 = ws.onSessionStart();
  const h2 = ws.onSessionEnd();
  await settle();
  fake.calls[0]!.resolve(okSync());
  await first;
  await settle();
  assert.equal(fake.calls.length, 2);
  fake.calls[1]!.resolve(okSync());
  await settle();
  assert.equal(fake.calls.length, 3);
  fake.calls[2]!.resolve(okSync());
  const outs = await Promise.all([h1, h2]);
  assert.deepEqual(outs.map((o) => o.ran), [true, true]);
  assert.equal(fake.state.maxConcurrent, 1);
});

test("stop while a hook waits: the hook gives up and starts nothing", async (t) => {
  const { ws, fake } = await setup(t, { onSessionStart: true });
  void ws.syncNow();
  await settle();
  const hook = ws.onSessionStart();
  await settle();
  await ws.stop();
  assert.deepEqual(await hook, { ran: false, reason: "stopped" });
  await settle();
  assert.equal(fake.calls.length, 1);
});

test("notifyOnInbox: the host callback gets the names and the sync module's message text", async (t) => {
  const received: [string[], string][] = [];
  const { ws, fake } = await setup(t, { notifyOnInbox: true }, { onInboxFiles: (f, text) => void received.push([f, text]) });
  const events: string[][] = [];
  ws.on("inbox", (e) => events.push(e.files));
  fake.state.onCall = async (p) => {
    await p.onInboxFiles?.(["a.pdf", "b.csv"], formatInboxNotification(["a.pdf", "b.csv"]));
  };
  fake.state.autoResult = okSync(["a.pdf", "b.csv"]);
  await ws.syncNow();
  assert.deepEqual(received, [[["a.pdf", "b.csv"], "[workspace-sync] New files in _inbox: a.pdf, b.csv"]]);
  assert.deepEqual(events, [["a.pdf", "b.csv"]]);
  // Dry runs move nothing and get no callback.
  await ws.syncNow({ dryRun: true });
  assert.equal(fake.calls[1]!.params.onInboxFiles, undefined);
});

test("notifyOnInbox off: the callback is not called (the inbox event still is)", async (t) => {
  let called = 0;
  const { ws, fake } = await setup(t, { notifyOnInbox: false }, { onInboxFiles: () => void called++ });
  let events = 0;
  ws.on("inbox", () => events++);
  fake.state.onCall = async (p) => p.onInboxFiles?.(["x.txt"], formatInboxNotification(["x.txt"]));
  fake.state.autoResult = okSync(["x.txt"]);
  await ws.syncNow();
  assert.equal(called, 0);
  assert.equal(events, 1);
});

test("a failing inbox callback is logged as a warning and does not fail the sync", async (t) => {
  const { ws, fake, log } = await setup(t, { notifyOnInbox: true }, {
    onInboxFiles: () => {
      throw new Error("agent unreachable");
    },
  });
  fake.state.onCall = async (p) => p.onInboxFiles?.(["x.txt"], formatInboxNotification(["x.txt"]));
  fake.state.autoResult = okSync(["x.txt"]);
  const r = await ws.syncNow();
  assert.equal(r.ok, true);
  assert.ok(log.text("warn").includes("[workspace-sync] Inbox notification error: agent unreachable"));
});
