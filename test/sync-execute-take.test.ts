/**
 * The executor takes the plan's actions (sync/execute.ts): it still carries out every one of them
 * and records every entry, but holds none of them once it is done with it, so a first run of many
 * files does not keep its whole plan beside the state it is building. Checked with the collector
 * itself: while the last upload is in flight, the actions of the transfers before it are gone.
 */
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import v8 from "node:v8";
import vm from "node:vm";
import { createLocalProvider } from "../src/providers/local/index.js";
import type { StorageProvider } from "../src/providers/types.js";
import { executePlan } from "../src/sync/execute.js";
import { createFilter } from "../src/sync/filters.js";
import { listLocal, listRemote } from "../src/sync/listing.js";
import { planSync } from "../src/sync/plan.js";
import { silentLogger } from "../src/logger.js";
import type { SyncAction } from "../src/sync/types.js";
import { WorkspaceFs } from "../src/util/safe-fs.js";
import { tempDir } from "./support/tree.js";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

test("the executor carries out every action it takes, and lets go of each transfer's action once it is done", async (t) => {
  const { dir, cleanup } = await tempDir("ws-execute-take-");
  t.after(cleanup);
  const ws = path.join(dir, "ws");
  const cloud = path.join(dir, "cloud");
  const COUNT = 40;
  await fsp.mkdir(path.join(ws, "notes"), { recursive: true });
  await fsp.mkdir(path.join(cloud, "share"), { recursive: true });
  for (let i = 0; i < COUNT; i++) await fsp.writeFile(path.join(ws, "notes", `n${String(i).padStart(2, "0")}.md`), `note ${i}`);
  await fsp.writeFile(path.join(cloud, "share", "from-cloud.txt"), "down");

  const inner = createLocalProvider({ root: cloud });
  const keyOf = (p: string): string => p.normalize("NFC");
  const filter = createFilter([], false);
  const local = await listLocal(ws, { filter, copySymlinks: false, keyOf });
  const remote = await listRemote(inner, "share", { filter, keyOf });
  const plan = planSync(local.files, remote.files, undefined, { mode: "bisync", keyOf });
  const uploads = plan.actions.filter((a) => a.kind === "upload");
  assert.equal(uploads.length, COUNT);
  assert.equal(plan.actions.length, COUNT + 1);
  const refs = uploads.map((a) => new WeakRef(a));

  // While the last upload to run is written (the executor takes them in its own order: see
  // `twoHalves`): how many of the uploads' actions are still held.
  let heldDuringLast: number | undefined;
  let writes = 0;
  const provider: StorageProvider = Object.create(inner, {
    write: {
      value: async (...args: Parameters<StorageProvider["write"]>) => {
        if (++writes === COUNT) {
          gc();
          heldDuringLast = refs.filter((r) => r.deref() !== undefined).length;
        }
        return inner.write(...args);
      },
    },
  });
  uploads.length = 0;

  const outcome = await executePlan(plan, {
    provider,
    remoteDir: "share",
    workspace: ws,
    wfs: await WorkspaceFs.open(ws),
    token: "0123456789abcdef",
    local: local.files,
    remote: remote.files,
    prior: undefined,
    keyOf,
    concurrency: 1,
    logger: silentLogger,
  });

  assert.deepEqual(plan.actions, [], "the plan is left empty");
  assert.equal(outcome.uploaded.length, COUNT);
  assert.deepEqual(outcome.downloaded, ["from-cloud.txt"]);
  assert.equal(outcome.files.size, COUNT + 1, "an entry for every file");
  assert.equal(await fsp.readFile(path.join(ws, "from-cloud.txt"), "utf8"), "down");
  assert.equal(await fsp.readFile(path.join(cloud, "share", "notes", "n39.md"), "utf8"), "note 39");
  // One at a time: the last upload's own action is held by its call; every one before it is gone.
  assert.equal(heldDuringLast, 1, "only the action in flight is held while the last upload runs");
});

test("a plan with a key twice, or a conflict name that is a planned key, is refused before anything is changed", async (t) => {
  const { dir, cleanup } = await tempDir("ws-execute-twice-");
  t.after(cleanup);
  const ws = path.join(dir, "ws");
  const cloud = path.join(dir, "cloud");
  await fsp.mkdir(ws, { recursive: true });
  await fsp.mkdir(path.join(cloud, "share"), { recursive: true });
  for (const n of ["a.txt", "b.txt"]) await fsp.writeFile(path.join(ws, n), n);
  const provider = createLocalProvider({ root: cloud });
  const keyOf = (p: string): string => p.normalize("NFC");
  const filter = createFilter([], false);
  const local = await listLocal(ws, { filter, copySymlinks: false, keyOf });
  const remote = await listRemote(provider, "share", { filter, keyOf });
  const run = async (actions: SyncAction[]): Promise<unknown> =>
    executePlan({ actions }, { provider, remoteDir: "share", workspace: ws, wfs: await WorkspaceFs.open(ws), token: "0123456789abcdef", local: local.files, remote: remote.files, prior: undefined, keyOf, concurrency: 2, logger: silentLogger });
  const refused = (key: string) => (err: Error & { code?: string }) => err.code === "INTERNAL_ERROR" && err.message.includes(`two steps for "${key}"`);
  const up = (p: string): SyncAction => ({ kind: "upload", path: p, reason: "new" });
  await assert.rejects(run([up("a.txt"), up("b.txt"), up("b.txt")]), refused("b.txt"));
  await assert.rejects(run([up("b.txt"), up("a.txt")]), (err: Error & { code?: string }) => err.code === "INTERNAL_ERROR" && err.message.includes(`planned "a.txt" after "b.txt", out of order`));
  await assert.rejects(run([up("a.txt"), { kind: "conflict", path: "b.txt", winner: "local", loserPath: "a.txt", reason: "x" }]), refused("a.txt"));
  await assert.rejects(
    run([
      { kind: "conflict", path: "a.txt", winner: "local", loserPath: "c.txt", reason: "x" },
      { kind: "conflict", path: "b.txt", winner: "local", loserPath: "c.txt", reason: "x" },
    ]),
    refused("c.txt"),
  );
  // A conflict name whose key (lower-cased, as on a case-insensitive provider) is a planned key.
  const lower = async (actions: SyncAction[]): Promise<unknown> =>
    executePlan({ actions }, { provider, remoteDir: "share", workspace: ws, wfs: await WorkspaceFs.open(ws), token: "0123456789abcdef", local: local.files, remote: remote.files, prior: undefined, keyOf: (p) => p.toLowerCase(), concurrency: 2, logger: silentLogger });
  await assert.rejects(lower([up("a.txt"), { kind: "conflict", path: "b.txt", winner: "local", loserPath: "A.TXT", reason: "x" }]), refused("a.txt"));
  assert.deepEqual(await fsp.readdir(path.join(cloud, "share")), [], "nothing was uploaded");
  // The same steps once each: carried out.
  const outcome = (await run([up("a.txt"), up("b.txt")])) as { uploaded: string[] };
  assert.deepEqual(outcome.uploaded.sort(), ["a.txt", "b.txt"]);
});
