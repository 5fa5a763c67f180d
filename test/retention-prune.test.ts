/**
 * pruneSnapshots over the real local provider: exactly the planned snapshots (and their sidecars)
 * are deleted; anything that is not a snapshot name, sub-folders, the snapshot just written and the
 * newest snapshot are never touched; a failed listing deletes nothing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pruneSnapshots, planPrune, type OwnershipCheck } from "../src/retention/index.js";
import { parseSnapshotName } from "../src/snapshot/index.js";
import { createLocalProvider } from "../src/providers/local/index.js";
import type { StorageProvider } from "../src/providers/types.js";
import type { Logger } from "../src/logger.js";
import { WorkspaceSyncError } from "../src/errors.js";

const NOW = new Date(Date.UTC(2030, 0, 1));

/**
 * This file's snapshots are stand-ins (a line of text each): every parsed name counts as ours here,
 * as the plan and the deletes are what is tested. Which snapshots are ours: retention-owned.test.ts.
 */
const everyName: OwnershipCheck = async (snapshots) => ({ owned: [...snapshots], notOurs: [] });

interface Fixture {
  root: string;
  provider: StorageProvider;
  logs: string[];
  logger: Logger;
  cleanup: () => Promise<void>;
}

async function fixture(files: string[], dir = ""): Promise<Fixture> {
  const root = await mkdtemp(path.join(os.tmpdir(), "ws-retention-"));
  for (const f of files) {
    const full = path.join(root, dir, f);
    await mkdir(path.dirname(full), { recursive: true });
    await writeFile(full, `content of ${f}`);
  }
  const logs: string[] = [];
  const logger: Logger = {
    info: (m) => logs.push(`info ${m}`),
    warn: (m) => logs.push(`warn ${m}`),
    error: (m) => logs.push(`error ${m}`),
    debug: (m) => logs.push(`debug ${m}`),
  };
  const provider = createLocalProvider({ root }, { logger });
  return { root, provider, logs, logger, cleanup: () => rm(root, { recursive: true, force: true }) };
}

async function ls(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

/** Daily snapshots at 03:00 UTC on the given days of January 2024. */
const daily = (...days: number[]) => days.map((d) => `backup-202401${String(d).padStart(2, "0")}T030000Z.tar.gz.enc`);

const OTHERS = ["backup-foo", "backup-20240101.tar.gz", "notes.txt", "backup-20240199T030000Z.tar.gz.enc", "backup-20240102T030000Z.tar.gz.enc.partial"];

test("deletes exactly the planned snapshots and leaves everything else alone", async () => {
  const snaps = daily(1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
  const fx = await fixture([...snaps, ...OTHERS, "old/backup-20200101T000000Z.tar.gz"]);
  try {
    const res = await pruneSnapshots({ owned: everyName, provider: fx.provider, dir: "", policy: 3, logger: fx.logger, now: NOW });
    assert.ok(res.ok);
    assert.deepEqual(res.keep.map((s) => s.name), daily(10, 9, 8));
    assert.deepEqual(res.prune.map((s) => s.name), daily(7, 6, 5, 4, 3, 2, 1));
    assert.deepEqual([...res.deleted].sort(), daily(1, 2, 3, 4, 5, 6, 7));
    assert.deepEqual(res.failed, []);
    assert.deepEqual([...res.ignored].sort(), [...OTHERS].sort());
    assert.deepEqual(res.reasons[daily(10)[0]!], ["last snapshot"]);
    assert.deepEqual(await ls(fx.root), [...daily(8, 9, 10), ...OTHERS, "old"].sort());
    assert.deepEqual(await ls(path.join(fx.root, "old")), ["backup-20200101T000000Z.tar.gz"]);
    // Logs: one warning listing the ignored names, the summary, one line per delete.
    const warnings = fx.logs.filter((l) => l.startsWith("warn"));
    assert.equal(warnings.length, 1);
    for (const o of OTHERS) assert.ok(warnings[0]!.includes(o), warnings[0]);
    assert.ok(fx.logs.includes("info [backup] Pruning 7 old snapshot(s), keeping 3"));
    for (const d of res.deleted) assert.ok(fx.logs.includes(`info [backup] Deleted: ${d}`));
    assert.ok(fx.logs.indexOf("info [backup] Pruning 7 old snapshot(s), keeping 3") < fx.logs.findIndex((l) => l.includes("Deleted:")));
  } finally {
    await fx.cleanup();
  }
});

test("works in a sub-folder and never touches its neighbours", async () => {
  const fx = await fixture([]);
  try {
    for (const agent of ["agents/a", "agents/b"]) {
      for (const f of daily(1, 2, 3)) {
        await mkdir(path.join(fx.root, agent), { recursive: true });
        await writeFile(path.join(fx.root, agent, f), "x");
      }
    }
    const res = await pruneSnapshots({ owned: everyName, provider: fx.provider, dir: "agents/a", policy: { last: 1 }, logger: fx.logger, now: NOW });
    assert.ok(res.ok);
    assert.deepEqual(await ls(path.join(fx.root, "agents/a")), daily(3));
    assert.deepEqual(await ls(path.join(fx.root, "agents/b")), daily(1, 2, 3));
    // A missing folder lists as empty: nothing to do.
    const none = await pruneSnapshots({ owned: everyName, provider: fx.provider, dir: "agents/none", policy: 1, logger: fx.logger, now: NOW });
    assert.ok(none.ok);
    assert.deepEqual([none.keep, none.prune, none.deleted], [[], [], []]);
  } finally {
    await fx.cleanup();
  }
});

test("sidecars go with their snapshot; orphan sidecars are left alone", async () => {
  const snaps = daily(1, 2, 3);
  const sidecars = snaps.map((s) => `${s}.sha256`);
  const fx = await fixture([...snaps, ...sidecars, "backup-20231231T000000Z.tar.gz.sha256"]);
  try {
    const res = await pruneSnapshots({ owned: everyName, provider: fx.provider, dir: "", policy: { daily: 1 }, logger: fx.logger, now: NOW });
    assert.ok(res.ok);
    assert.deepEqual([...res.deleted].sort(), [...daily(1, 2), ...daily(1, 2).map((s) => `${s}.sha256`)].sort());
    assert.deepEqual(res.ignored, ["backup-20231231T000000Z.tar.gz.sha256"]);
    assert.deepEqual(await ls(fx.root), ["backup-20231231T000000Z.tar.gz.sha256", daily(3)[0]!, `${daily(3)[0]!}.sha256`].sort());
  } finally {
    await fx.cleanup();
  }
});

test("dryRun plans and logs but deletes nothing", async () => {
  const snaps = daily(1, 2, 3, 4, 5);
  const fx = await fixture([...snaps, "backup-foo"]);
  try {
    const before = await ls(fx.root);
    const res = await pruneSnapshots({ owned: everyName, provider: fx.provider, dir: "", policy: { last: 2 }, logger: fx.logger, dryRun: true, now: NOW });
    assert.ok(res.ok);
    assert.equal(res.dryRun, true);
    assert.deepEqual(res.prune.map((s) => s.name), daily(3, 2, 1));
    assert.deepEqual(res.deleted, []);
    assert.deepEqual(await ls(fx.root), before);
    assert.ok(fx.logs.includes("info [backup] Dry run: would prune 3 old snapshot(s), keeping 2"));
    assert.ok(!fx.logs.some((l) => l.includes("Deleted:")));
  } finally {
    await fx.cleanup();
  }
});

test("the snapshot just written is kept even if the policy would drop it", async () => {
  // A clock running behind: the new snapshot sorts older than existing ones.
  const snaps = daily(5, 6, 7);
  const fx = await fixture([...snaps, ...daily(1)]);
  try {
    const res = await pruneSnapshots({ owned: everyName, provider: fx.provider, dir: "", policy: 1, justWritten: daily(1)[0]!, logger: fx.logger, now: NOW });
    assert.ok(res.ok);
    assert.deepEqual(res.keep.map((s) => s.name), [...daily(7), ...daily(1)]);
    assert.deepEqual(res.reasons[daily(1)[0]!], ["just written"]);
    assert.deepEqual(await ls(fx.root), [...daily(1), ...daily(7)].sort());
  } finally {
    await fx.cleanup();
  }
});

test("justWritten may be a path, and counts even when the listing does not show it yet", async () => {
  const fx = await fixture(daily(1, 2, 3), "snaps");
  try {
    // The listing lags behind: daily(4) was written but is not listed. last 2 keeps it and daily(3).
    const res = await pruneSnapshots({ owned: everyName, provider: fx.provider, dir: "snaps", policy: 2, justWritten: `snaps/${daily(4)[0]!}`, logger: fx.logger, now: NOW });
    assert.ok(res.ok);
    assert.deepEqual(res.keep.map((s) => s.name), daily(4, 3));
    assert.deepEqual(await ls(path.join(fx.root, "snaps")), daily(3));
  } finally {
    await fx.cleanup();
  }
});

test("the newest snapshot always stays, whatever the policy", async () => {
  const fx = await fixture(daily(1, 2, 3, 20));
  try {
    for (const policy of [{ hourly: 1 }, { withinDaily: "1h" }, { yearly: 1 }, { within: "1h" }]) {
      const res = await pruneSnapshots({ owned: everyName, provider: fx.provider, dir: "", policy, logger: fx.logger, now: NOW });
      assert.ok(res.ok);
      assert.ok(res.keep.some((s) => s.name === daily(20)[0]), JSON.stringify(policy));
    }
    assert.deepEqual(await ls(fx.root), daily(20));
  } finally {
    await fx.cleanup();
  }
});

test("listing failure: root is a file → ok:false, nothing deleted", async () => {
  const fx = await fixture([]);
  try {
    const file = path.join(fx.root, "not-a-folder");
    await writeFile(file, "x");
    const provider = createLocalProvider({ root: file });
    const res = await pruneSnapshots({ owned: everyName, provider, dir: "", policy: 1, logger: fx.logger, now: NOW });
    assert.equal(res.ok, false);
    assert.ok(!res.ok && res.code === "PROVIDER_ERROR" && res.error.length > 0, JSON.stringify(res));
    assert.ok(fx.logs.some((l) => l.startsWith("warn [backup] Could not list snapshots for pruning:")));
    assert.deepEqual(await ls(fx.root), ["not-a-folder"]);
  } finally {
    await fx.cleanup();
  }
});

test("listing failure midway → ok:false and no delete is attempted", async () => {
  const fx = await fixture(daily(1, 2, 3, 4, 5, 6));
  try {
    let deletes = 0;
    const broken: StorageProvider = {
      ...fx.provider,
      async *list(dir, options) {
        let n = 0;
        for await (const e of fx.provider.list(dir, options)) {
          if (++n === 3) throw new WorkspaceSyncError("NETWORK", "connection reset while listing", { retryable: true });
          yield e;
        }
      },
      async delete(p) {
        deletes++;
        return fx.provider.delete(p);
      },
      async deleteMany(paths, options) {
        deletes += paths.length;
        return fx.provider.deleteMany(paths, options);
      },
    };
    const res = await pruneSnapshots({ owned: everyName, provider: broken, dir: "", policy: 1, logger: fx.logger, now: NOW });
    assert.ok(!res.ok);
    assert.equal(res.code, "NETWORK");
    assert.equal(res.error, "connection reset while listing");
    assert.equal(deletes, 0);
    assert.deepEqual(await ls(fx.root), daily(1, 2, 3, 4, 5, 6));
  } finally {
    await fx.cleanup();
  }
});

test("a failed delete is reported and logged, the others still go", async () => {
  const fx = await fixture(daily(1, 2, 3, 4));
  try {
    const stuck = daily(2)[0]!;
    const flaky: StorageProvider = {
      ...fx.provider,
      async deleteMany(paths, options) {
        const failures = await fx.provider.deleteMany(paths.filter((p) => p !== stuck), options);
        return [...failures, { path: stuck, error: new WorkspaceSyncError("ACCESS_DENIED", "Permission denied: check the file permissions") }];
      },
    };
    const res = await pruneSnapshots({ owned: everyName, provider: flaky, dir: "", policy: 1, logger: fx.logger, now: NOW });
    assert.ok(res.ok);
    assert.deepEqual([...res.deleted].sort(), daily(1, 3));
    assert.equal(res.failed.length, 1);
    assert.equal(res.failed[0]!.name, stuck);
    assert.deepEqual(res.failed[0], { name: stuck, error: "Permission denied: check the file permissions", code: "ACCESS_DENIED" });
    assert.ok(fx.logs.includes(`warn [backup] Failed to delete ${stuck}: Permission denied: check the file permissions`));
    assert.deepEqual(await ls(fx.root), daily(2, 4));
  } finally {
    await fx.cleanup();
  }
});

test("an empty or invalid policy deletes nothing", async () => {
  const fx = await fixture(daily(1, 2, 3));
  try {
    for (const policy of [{}, { daily: 0 }, { daily: -5 }, { within: "1w" }]) {
      const res = await pruneSnapshots({ owned: everyName, provider: fx.provider, dir: "", policy, logger: fx.logger, now: NOW });
      assert.ok(!res.ok);
      assert.equal(res.code, "CONFIG_INVALID", JSON.stringify(policy));
      assert.match(res.path ?? "", /^backup\.retain/);
      assert.match(res.error, /^backup\.retain/);
    }
    assert.deepEqual(await ls(fx.root), daily(1, 2, 3));
    assert.ok(fx.logs.includes('warn [backup] Not pruning: backup.retain is empty: set e.g. { "daily": 7 } or a number'), fx.logs.join("\n"));
  } finally {
    await fx.cleanup();
  }
});

test("an aborted signal deletes nothing", async () => {
  const fx = await fixture(daily(1, 2, 3));
  try {
    const ac = new AbortController();
    ac.abort();
    const res = await pruneSnapshots({ owned: everyName, provider: fx.provider, dir: "", policy: 1, logger: fx.logger, signal: ac.signal, now: NOW });
    assert.ok(!res.ok);
    assert.equal(res.code, "ABORTED");
    assert.deepEqual(await ls(fx.root), daily(1, 2, 3));
  } finally {
    await fx.cleanup();
  }
});

test("nothing to prune: no deletes and no pruning log line", async () => {
  const fx = await fixture(daily(1, 2));
  try {
    const res = await pruneSnapshots({ owned: everyName, provider: fx.provider, dir: "", policy: { daily: 7 }, logger: fx.logger, now: NOW });
    assert.ok(res.ok);
    assert.equal(res.keep.length, 2);
    assert.ok(!fx.logs.some((l) => l.includes("Pruning")));
    assert.deepEqual(await ls(fx.root), daily(1, 2));
  } finally {
    await fx.cleanup();
  }
});

test("planPrune (pure): restic's plan plus the just-written and newest safety keeps", () => {
  const infos = daily(1, 2, 3, 4).map((n) => parseSnapshotName(n)!);
  // hourly within 1h of the newest keeps only the newest; justWritten (older, clock skew) stays too.
  const plan = planPrune(infos, { withinHourly: "1h" }, { justWritten: daily(2)[0]!, now: NOW });
  assert.deepEqual(plan.keep.map((s) => s.name), daily(4, 2));
  assert.deepEqual(plan.reasons, { [daily(4)[0]!]: ["hourly within 1h"], [daily(2)[0]!]: ["just written"] });
  assert.deepEqual(plan.prune.map((s) => s.name), daily(3, 1));
  // The reasons serialise to JSON as they are.
  assert.deepEqual(JSON.parse(JSON.stringify(plan.reasons)), plan.reasons);
  // The newest is protected even when a policy's own rules would not keep it: restic never drops
  // it, so the override only shows up as an extra reason when justWritten is also the newest.
  const both = planPrune(infos, 1, { justWritten: daily(4)[0]!, now: NOW });
  assert.deepEqual(both.reasons, { [daily(4)[0]!]: ["last snapshot"] });
  // Odd names are fine as record keys.
  const odd = planPrune([{ name: "__proto__", time: new Date(0) }, { name: "constructor", time: new Date(1000) }], 2, { now: NOW });
  assert.deepEqual(Object.keys(odd.reasons).sort(), ["__proto__", "constructor"]);
  assert.deepEqual(odd.reasons["__proto__"], ["last snapshot"]);
});

test("a deleteMany that throws midway: what is gone is reported deleted, the rest failed", async () => {
  const fx = await fixture(daily(1, 2, 3, 4));
  try {
    const ac = new AbortController();
    const aborting: StorageProvider = {
      ...fx.provider,
      async deleteMany(paths) {
        await fx.provider.delete(paths[0]!);
        ac.abort();
        throw new WorkspaceSyncError("ABORTED", "Operation aborted");
      },
    };
    const res = await pruneSnapshots({ owned: everyName, provider: aborting, dir: "", policy: 1, logger: fx.logger, signal: ac.signal, now: NOW });
    assert.ok(res.ok);
    assert.deepEqual(res.deleted, daily(3));
    assert.deepEqual(res.failed.map((f) => [f.name, f.code]), [[daily(2)[0]!, "ABORTED"], [daily(1)[0]!, "ABORTED"]]);
    assert.deepEqual(await ls(fx.root), daily(1, 2, 4));
  } finally {
    await fx.cleanup();
  }
});
