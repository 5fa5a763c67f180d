/**
 * Retention counts and deletes only snapshots that are provably ours (`backup/ownership.ts`), never
 * a file by its name alone: names planted by someone who can write to the storage (dated in the
 * future, they would take the policy's places and have every real snapshot deleted), other tools'
 * look-alikes, and another agent's snapshots made with another passphrase are left alone and
 * reported; snapshots made by `tar | openssl enc` (the plugin's) with the configured passphrase are
 * ours, as are unencrypted snapshots with their checksum file.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { runBackup, runRestore } from "../src/backup/index.js";
import { listSnapshotsWithRetention } from "../src/backup/list.js";
import { pruneBackup } from "../src/backup/prune.js";
import { findSnapshot } from "../src/backup/find-snapshot.js";
import { verifySnapshots } from "../src/backup/verify.js";
import { resolveConfig } from "../src/config/index.js";
import { WorkspaceSyncError } from "../src/errors.js";
import { silentLogger } from "../src/logger.js";
import { parseSnapshotName } from "../src/snapshot/index.js";
import { sampleAgent, tempDir } from "./support/tree.js";

const PASS = "retention owner passphrase";

async function fixture(t: { after(fn: () => Promise<void>): void }, backup: Record<string, unknown>) {
  const { dir, cleanup } = await tempDir("ws-retention-owned-");
  t.after(cleanup);
  const { workspaceDir, stateDir } = await sampleAgent(dir);
  const cloud = path.join(dir, "cloud");
  const snaps = path.join(cloud, "backups");
  await fsp.mkdir(snaps, { recursive: true });
  const config = resolveConfig({ backup: { enabled: true, provider: "local", local: { root: cloud }, prefix: "backups", encrypt: true, passphrase: PASS, ...backup } });
  const backupAt = async (iso: string, cfg = config) => {
    const r = await runBackup({ syncConfig: cfg, workspaceDir, stateDir, now: () => new Date(iso), skipPrune: true });
    assert.ok(r.ok, r.ok ? "" : r.error);
    return r.snapshotName;
  };
  const ls = async () => (await fsp.readdir(snaps)).sort();
  return { dir, cloud, snaps, workspaceDir, stateDir, config, backupAt, ls };
}

/** What `tar -cz | openssl enc -aes-256-cbc -pbkdf2 -iter 100000` (the plugin) makes of `dir`, stored as `to`. */
function opensslSnapshot(dir: string, to: string, pass: string): void {
  execFileSync("sh", ["-c", 'tar -cz -C "$1" . | openssl enc -aes-256-cbc -salt -pbkdf2 -iter 100000 -pass env:PASS > "$2"', "sh", dir, to], { env: { ...process.env, PASS: pass } });
}

test("planted and foreign snapshot names are neither counted nor deleted; the real ones, the plugin's included, are", async (t) => {
  const f = await fixture(t, { retain: { last: 3 } });
  const real = [await f.backupAt("2026-03-01T10:00:00Z"), await f.backupAt("2026-03-02T10:00:00Z"), await f.backupAt("2026-03-03T10:00:00Z")];
  // The plugin's snapshot (no MAC, no checksum file), with the same passphrase: ours, and the oldest.
  const legacy = "backup-20260201T100000Z.tar.gz.enc";
  opensslSnapshot(f.workspaceDir, path.join(f.snaps, legacy), PASS);
  // Another agent's snapshot in the same folder, made with its own passphrase.
  const otherConfig = { ...f.config, backup: { ...f.config.backup!, passphrase: "another agent's passphrase" } };
  const other = await f.backupAt("2026-01-15T10:00:00Z", otherConfig);
  const otherLegacy = "backup-20260110T100000Z.tar.gz.enc";
  opensslSnapshot(f.workspaceDir, path.join(f.snaps, otherLegacy), "another agent's passphrase");
  // Planted by someone who can write to the storage: dated in the future, one with a MAC file of
  // its own making, and a real old snapshot's bytes copied under a future name.
  const planted = ["backup-29991231T000000Z.tar.gz.enc", "backup-29991230T000000Z.tar.gz.enc", "backup-29991229T000000Z.tar.gz.enc"];
  for (const name of planted) await fsp.writeFile(path.join(f.snaps, name), "x");
  await fsp.writeFile(path.join(f.snaps, `${planted[0]}.sha256`), `${"0".repeat(64)}  ${planted[0]}\n`);
  const copied = "backup-29990101T000000Z.tar.gz.enc";
  await fsp.copyFile(path.join(f.snaps, legacy), path.join(f.snaps, copied));
  // Other tools' look-alikes: a text file, an empty one with a checksum file of garbage.
  const lookAlikes = ["backup-20200101T000000Z.tar.gz", "backup-20200102T000000Z.tar.gz.enc"];
  await fsp.writeFile(path.join(f.snaps, lookAlikes[0]!), "another tool's notes");
  await fsp.writeFile(path.join(f.snaps, lookAlikes[1]!), "");
  await fsp.writeFile(path.join(f.snaps, `${lookAlikes[1]}.sha256`), "garbage\n");
  const before = await f.ls();

  const listed = await listSnapshotsWithRetention({ config: f.config, stateDir: f.stateDir });
  assert.ok(listed.ok);
  const keptBy = new Map(listed.snapshots.map((s) => [s.name, s.keptBy.length > 0]));
  assert.deepEqual(
    real.map((n) => keptBy.get(n)),
    [true, true, true],
    "the listing shows the real snapshots kept by the policy",
  );

  const r = await pruneBackup({ config: f.config, stateDir: f.stateDir });
  assert.ok(r.ok, r.ok ? "" : r.error);
  assert.deepEqual(r.keep.map((s) => s.name), [...real].reverse(), "the three newest of ours are kept");
  assert.deepEqual(r.prune.map((s) => s.name), [legacy], "the plugin's older snapshot is ours, and pruned");
  assert.deepEqual(r.deleted, [legacy]);
  const notOurs = new Map(r.notOurs.map((n) => [n.name, n.reason]));
  assert.deepEqual([...notOurs.keys()].sort(), [...planted, copied, ...lookAlikes, other, otherLegacy].sort());
  assert.match(notOurs.get(other) ?? "", /another passphrase/);
  assert.match(notOurs.get(otherLegacy) ?? "", /does not decrypt with the configured passphrase/);
  assert.match(notOurs.get(copied) ?? "", /dated in the future|an older snapshot of ours has one/);
  assert.deepEqual(await f.ls(), before.filter((n) => n !== legacy), "nothing but the plugin's old snapshot was deleted");
  assert.match(notOurs.get(lookAlikes[0]!) ?? "", /no checksum file of ours/);
});

test("a prune after a backup never deletes real snapshots for planted future names", async (t) => {
  const f = await fixture(t, { retain: 3 });
  const real = [await f.backupAt("2026-03-01T10:00:00Z"), await f.backupAt("2026-03-02T10:00:00Z"), await f.backupAt("2026-03-03T10:00:00Z")];
  for (const name of ["backup-29991231T000000Z.tar.gz.enc", "backup-29991230T000000Z.tar.gz.enc", "backup-29991229T000000Z.tar.gz.enc"]) await fsp.writeFile(path.join(f.snaps, name), "x");
  const r = await runBackup({ syncConfig: f.config, workspaceDir: f.workspaceDir, stateDir: f.stateDir, now: () => new Date("2026-03-04T10:00:00Z") });
  assert.ok(r.ok && r.prune?.ok);
  assert.deepEqual(r.prune.deleted.filter((n) => !n.endsWith(".sha256") && !n.endsWith(".mac")), [real[0]], "only the oldest real one goes (three kept, the new one among them)");
  assert.equal(r.prune.notOurs.length, 3);
});

test("unencrypted snapshots count with their checksum file; a look-alike without one, or dated in the future, does not", async (t) => {
  const f = await fixture(t, { encrypt: false, passphrase: undefined, retain: { last: 1 } });
  const older = await f.backupAt("2026-03-01T10:00:00Z");
  const newer = await f.backupAt("2026-03-02T10:00:00Z");
  await fsp.writeFile(path.join(f.snaps, "backup-20200101T000000Z.tar.gz"), "another tool's notes");
  await fsp.copyFile(path.join(f.snaps, newer), path.join(f.snaps, "backup-29990101T000000Z.tar.gz"));
  await fsp.writeFile(path.join(f.snaps, "backup-29990101T000000Z.tar.gz.sha256"), (await fsp.readFile(path.join(f.snaps, `${newer}.sha256`), "utf8")).replace(newer, "backup-29990101T000000Z.tar.gz"));
  const r = await pruneBackup({ config: f.config, stateDir: f.stateDir });
  assert.ok(r.ok, r.ok ? "" : r.error);
  assert.deepEqual([r.keep.map((s) => s.name), r.prune.map((s) => s.name)], [[newer], [older]]);
  assert.deepEqual(r.notOurs.map((n) => n.name).sort(), ["backup-20200101T000000Z.tar.gz", "backup-29990101T000000Z.tar.gz"]);
});

test("snapshot names are ours only in the form we write them (no year below 1000, no -0 or zero-padded sequence)", () => {
  for (const name of ["backup-00990101T000000Z.tar.gz.enc", "backup-20260101T000000Z-0.tar.gz.enc", "backup-20260101T000000Z-000001.tar.gz.enc", "backup-20260101T000000Z-01.tar.gz"]) {
    assert.equal(parseSnapshotName(name), undefined, name);
  }
  for (const name of ["backup-20260101T000000Z.tar.gz.enc", "backup-20260101T000000Z-1.tar.gz.enc", "backup-20260101T000000Z-123456.tar.gz"]) {
    assert.equal(parseSnapshotName(name)?.name, name, name);
  }
});

test('"latest" is the newest snapshot that is ours: planted and foreign newer names are passed over, with a warning naming them', async (t) => {
  const f = await fixture(t, { retain: { last: 10 } });
  const real = await f.backupAt("2026-03-01T10:00:00Z");
  const otherConfig = { ...f.config, backup: { ...f.config.backup!, passphrase: "another agent's passphrase" } };
  const other = await f.backupAt("2026-03-02T10:00:00Z", otherConfig);
  const planted = "backup-29991231T000000Z.tar.gz.enc";
  await fsp.writeFile(path.join(f.snaps, planted), "x");
  const r = await runRestore({ syncConfig: f.config, workspaceDir: f.workspaceDir, stateDir: f.stateDir, snapshotName: "latest", restoreTo: path.join(f.dir, "restored") });
  assert.ok(r.ok, r.ok ? "" : r.error);
  assert.equal(r.snapshotName, real);
  assert.equal(r.authenticated, true);
  const w = r.warnings.find((x) => x.includes("passed over")) ?? "";
  assert.ok(w.includes(planted) && w.includes(other), w);
  assert.match(w, /another passphrase/);
  // The CLI's `backup restore` and `backup verify` resolve it first (findSnapshot, verifySnapshots): they warn too.
  const warned: string[] = [];
  const logger = { info() {}, error() {}, warn: (m: string) => warned.push(m) };
  assert.equal(await findSnapshot({ config: f.config, stateDir: f.stateDir, snapshotName: "latest", logger }), real);
  const v = await verifySnapshots({ syncConfig: f.config, stateDir: f.stateDir, snapshotName: "latest", logger });
  assert.ok(v.ok && v.snapshots[0]?.snapshotName === real);
  assert.equal(warned.filter((m) => m.includes("passed over") && m.includes(planted)).length, 2, warned.join("\n"));
  // Only names that are not ours: the newest, whose checks say why it is refused.
  await fsp.rm(path.join(f.snaps, real));
  const none = await runRestore({ syncConfig: f.config, workspaceDir: f.workspaceDir, stateDir: f.stateDir, snapshotName: "latest", restoreTo: path.join(f.dir, "restored-2") });
  assert.equal(none.ok, false);
  assert.equal(!none.ok && none.code, "SNAPSHOT_CORRUPT", !none.ok ? none.error : "");
});

test("a MAC file asking for far more key derivation rounds than configured is not checked (seconds of CPU each): not counted", async (t) => {
  const f = await fixture(t, { retain: { last: 1 } });
  const older = await f.backupAt("2026-03-01T10:00:00Z");
  const newer = await f.backupAt("2026-03-02T10:00:00Z");
  const mac = JSON.parse(await fsp.readFile(path.join(f.snaps, `${newer}.mac`), "utf8")) as Record<string, unknown>;
  await fsp.writeFile(path.join(f.snaps, `${newer}.mac`), JSON.stringify({ ...mac, macKdf: "pbkdf2-sha256-9000000" }) + "\n");
  const r = await pruneBackup({ config: f.config, stateDir: f.stateDir, dryRun: true });
  assert.ok(r.ok);
  assert.deepEqual(r.keep.map((s) => s.name), [older]);
  assert.match(r.notOurs.find((n) => n.name === newer)?.reason ?? "", /9000000 key derivation rounds/);
});

test("forgeries that look ours without the passphrase are not counted: a MAC file copied beside a junk name, unencrypted names and plugin copies dated among the real ones", async (t) => {
  const f = await fixture(t, { retain: { daily: 3 } });
  const real = [await f.backupAt("2026-03-01T10:00:00Z"), await f.backupAt("2026-03-02T10:00:00Z"), await f.backupAt("2026-03-03T10:00:00Z")];
  // A real MAC file with only its "snapshot" field edited, beside junk of the recorded size, dated later the same days.
  const mac = JSON.parse(await fsp.readFile(path.join(f.snaps, `${real[0]}.mac`), "utf8")) as Record<string, unknown>;
  const forged: string[] = [];
  for (const day of ["01", "02", "03"]) {
    const name = `backup-202603${day}T235959Z.tar.gz.enc`;
    forged.push(name);
    await fsp.writeFile(path.join(f.snaps, name), Buffer.alloc(mac.size as number, 1));
    await fsp.writeFile(path.join(f.snaps, `${name}.mac`), JSON.stringify({ ...mac, snapshot: name }) + "\n");
  }
  // Unencrypted names with checksum files of their own making, and a copy of a plugin snapshot, later the same days.
  for (const day of ["01", "02"]) {
    const name = `backup-202603${day}T235958Z.tar.gz`;
    forged.push(name);
    await fsp.writeFile(path.join(f.snaps, name), "x");
    await fsp.writeFile(path.join(f.snaps, `${name}.sha256`), `${"a".repeat(64)}  ${name}\n`);
  }
  const legacyCopy = "backup-20260303T235958Z.tar.gz.enc";
  forged.push(legacyCopy);
  opensslSnapshot(f.workspaceDir, path.join(f.snaps, legacyCopy), PASS);
  const r = await pruneBackup({ config: f.config, stateDir: f.stateDir });
  assert.ok(r.ok, r.ok ? "" : r.error);
  assert.deepEqual(r.keep.map((s) => s.name), [...real].reverse(), "the real snapshots keep their days");
  assert.deepEqual(r.deleted, []);
  assert.deepEqual(r.notOurs.map((n) => n.name).sort(), [...forged].sort());
  assert.match(r.notOurs.find((n) => n.name === forged[0])?.reason ?? "", /name tag does not match/);
});

test('"latest" is not resolved past a newer snapshot that could not be looked at (a read error), never an older one silently', async (t) => {
  const f = await fixture(t, { retain: { last: 10 } });
  await f.backupAt("2026-03-01T10:00:00Z");
  const newer = await f.backupAt("2026-03-02T10:00:00Z");
  const { createLocalProvider } = await import("../src/providers/local/index.js");
  const inner = createLocalProvider({ root: f.cloud }, { logger: silentLogger });
  let failed = 0;
  const flaky = {
    ...inner,
    read: async (p: string, o?: Parameters<typeof inner.read>[1]) => {
      if (p.endsWith(`${newer}.mac`) && failed++ === 0) throw new WorkspaceSyncError("NETWORK", "connection reset", { retryable: true });
      return inner.read(p, o);
    },
  };
  const r = await runRestore({ syncConfig: f.config, workspaceDir: f.workspaceDir, stateDir: f.stateDir, snapshotName: "latest", restoreTo: path.join(f.dir, "r"), provider: flaky });
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.error : "", /Could not tell whether .* is ours/);
  const again = await runRestore({ syncConfig: f.config, workspaceDir: f.workspaceDir, stateDir: f.stateDir, snapshotName: "latest", restoreTo: path.join(f.dir, "r2"), provider: flaky });
  assert.ok(again.ok && again.snapshotName === newer, "the next try restores the newest");
});

test("a dead backup's snapshot recorded on another provider, or whose claim is gone, is never removed from this one", async (t) => {
  const f = await fixture(t, { retain: { last: 10 } });
  const legacy = "backup-20260301T100000Z.tar.gz.enc";
  opensslSnapshot(f.workspaceDir, path.join(f.snaps, legacy), PASS);
  const record = path.join(f.stateDir, "workspace-sync", "backup-claim.json");
  await fsp.mkdir(path.dirname(record), { recursive: true });
  const entry = { snapshot: `backups/${legacy}`, claim: `backups/${legacy}.sha256`, claimId: "0123456789abcdef" };
  // Left by a failed backup on another folder (the config changed since), then one on this folder whose claim went.
  await fsp.writeFile(record, JSON.stringify({ provider: "local:/elsewhere", dir: "backups", dead: [{ provider: "local:/elsewhere", ...entry }] }));
  await f.backupAt("2026-03-02T10:00:00Z");
  assert.ok((await f.ls()).includes(legacy), "another provider's record removes nothing here");
  const { createLocalProvider } = await import("../src/providers/local/index.js");
  const description = createLocalProvider({ root: f.cloud }, { logger: silentLogger }).description;
  await fsp.writeFile(record, JSON.stringify({ provider: description, dir: "backups", dead: [{ provider: description, ...entry }] }));
  await f.backupAt("2026-03-03T10:00:00Z");
  assert.ok((await f.ls()).includes(legacy), "no claim of the dead backup beside it: not removed");
});

/** A MAC file as written before 2026-12-07: without its name tag (the MAC itself stays valid). */
async function stripNameTag(file: string): Promise<Record<string, unknown>> {
  const { nameTag: _tag, ...rest } = JSON.parse(await fsp.readFile(file, "utf8")) as Record<string, unknown>;
  await fsp.writeFile(file, JSON.stringify(rest) + "\n");
  return rest;
}

test("MAC files without a name tag (written before it, or stripped) count only once this host authenticated their snapshots whole", async (t) => {
  const f = await fixture(t, { retain: { last: 3 } });
  const real = [await f.backupAt("2026-03-01T10:00:00Z"), await f.backupAt("2026-03-02T10:00:00Z"), await f.backupAt("2026-03-03T10:00:00Z")];
  let mac: Record<string, unknown> = {};
  for (const n of real) mac = await stripNameTag(path.join(f.snaps, `${n}.mac`));
  // Junk with a copied MAC file (no name tag, its "snapshot" edited), at a future time and at later seconds of a real day.
  const junk = ["backup-29991231T000000Z.tar.gz.enc", "backup-29991231T000000Z-1.tar.gz.enc", "backup-20260303T235959Z.tar.gz.enc"];
  for (const name of junk) {
    await fsp.writeFile(path.join(f.snaps, name), Buffer.alloc(mac.size as number, 1));
    await fsp.writeFile(path.join(f.snaps, `${name}.mac`), JSON.stringify({ ...mac, snapshot: name }) + "\n");
  }
  const before = await f.ls();
  const first = await pruneBackup({ config: f.config, stateDir: f.stateDir });
  assert.ok(first.ok, first.ok ? "" : first.error);
  assert.deepEqual([first.keep, first.deleted], [[], []], "nothing counts yet, nothing is deleted");
  assert.deepEqual(await f.ls(), before);
  assert.match(first.notOurs.find((n) => n.name === real[0])?.reason ?? "", /backup verify --all/);
  // `backup verify --all` authenticates the real ones whole (the junk fails), and records them.
  const v = await verifySnapshots({ syncConfig: f.config, stateDir: f.stateDir, snapshotName: "all" });
  assert.ok(v.ok);
  assert.deepEqual(v.snapshots.filter((s) => s.ok).map((s) => s.snapshotName).sort(), [...real].sort());
  const again = await runBackup({ syncConfig: f.config, workspaceDir: f.workspaceDir, stateDir: f.stateDir, now: () => new Date("2026-03-04T10:00:00Z") });
  assert.ok(again.ok && again.prune?.ok);
  assert.deepEqual(again.prune.keep.map((s) => s.name), [again.snapshotName, real[2], real[1]], "the real ones count again, the junk does not");
  assert.deepEqual(again.prune.deleted.filter((n) => !/\.(mac|sha256)$/.test(n)), [real[0]]);
  for (const name of junk) assert.ok((await f.ls()).includes(name), `${name} is never deleted`);
});

test('after upgrading, before verify: "latest" is the newest snapshot with an untagged MAC file (authenticated whole by the restore), never an older plugin one', async (t) => {
  const f = await fixture(t, { retain: { last: 10 } });
  opensslSnapshot(f.workspaceDir, path.join(f.snaps, "backup-20260201T100000Z.tar.gz.enc"), PASS);
  const real = [await f.backupAt("2026-03-01T10:00:00Z"), await f.backupAt("2026-03-02T10:00:00Z")];
  for (const n of real) await stripNameTag(path.join(f.snaps, `${n}.mac`));
  const r = await runRestore({ syncConfig: f.config, workspaceDir: f.workspaceDir, stateDir: f.stateDir, snapshotName: "latest", restoreTo: path.join(f.dir, "r") });
  assert.ok(r.ok, r.ok ? "" : r.error);
  assert.equal(r.snapshotName, real[1]);
  assert.equal(r.authenticated, true);
});

test("a claim line copied beside a real snapshot does not make the next backup remove it as a dead backup's", async (t) => {
  const f = await fixture(t, { retain: { last: 10 } });
  const legacy = "backup-20260201T100000Z.tar.gz.enc";
  opensslSnapshot(f.workspaceDir, path.join(f.snaps, legacy), PASS);
  // A backup that died after claiming its own name (recorded), its claim id readable in storage.
  const { createLocalProvider } = await import("../src/providers/local/index.js");
  const description = createLocalProvider({ root: f.cloud }, { logger: silentLogger }).description;
  const record = path.join(f.stateDir, "workspace-sync", "backup-claim.json");
  await fsp.mkdir(path.dirname(record), { recursive: true });
  await fsp.writeFile(record, JSON.stringify({ provider: description, dir: "backups", claimId: "0123456789abcdef", dead: [], name: "backup-20260301T100000Z.tar.gz.enc" }));
  const claimLine = "# workspace-sync: name claimed by a backup in progress (claim 0123456789abcdef, since 2026-03-01T10:00:00.000Z)\n";
  await fsp.writeFile(path.join(f.snaps, "backup-20260301T100000Z.tar.gz.enc.sha256"), claimLine);
  // Someone who can write to the storage copies that claim line beside the plugin snapshot.
  await fsp.writeFile(path.join(f.snaps, `${legacy}.sha256`), claimLine);
  await f.backupAt("2026-03-02T10:00:00Z");
  assert.ok((await f.ls()).includes(legacy), "the plugin snapshot stays");
});

test('"latest" passes over a MAC file without a name tag planted newer than a name-tagged snapshot of ours', async (t) => {
  const f = await fixture(t, { retain: { last: 10 } });
  await f.backupAt("2026-03-01T10:00:00Z");
  const newest = await f.backupAt("2026-03-02T10:00:00Z");
  // A real MAC file copied, its name tag dropped and its name edited, beside junk of the recorded size.
  const { nameTag: _tag, ...mac } = JSON.parse(await fsp.readFile(path.join(f.snaps, `${newest}.mac`), "utf8")) as Record<string, unknown>;
  const planted = "backup-20260302T120000Z.tar.gz.enc";
  await fsp.writeFile(path.join(f.snaps, planted), Buffer.alloc(mac.size as number, 1));
  await fsp.writeFile(path.join(f.snaps, `${planted}.mac`), JSON.stringify({ ...mac, snapshot: planted }) + "\n");
  const r = await runRestore({ syncConfig: f.config, workspaceDir: f.workspaceDir, stateDir: f.stateDir, snapshotName: "latest", restoreTo: path.join(f.dir, "r") });
  assert.ok(r.ok, r.ok ? "" : r.error);
  assert.equal(r.snapshotName, newest);
  assert.ok(r.warnings.some((w) => w.includes(planted)), r.warnings.join("\n"));
});

/** Counts the PBKDF2 key derivations of this process while `fn` runs (node:crypto's, seen by every ESM importer). */
async function countDerivations<T>(fn: () => Promise<T>): Promise<{ result: T; derivations: number }> {
  const crypto = (await import("node:crypto")).default;
  const { syncBuiltinESMExports } = await import("node:module");
  const real = crypto.pbkdf2;
  let derivations = 0;
  crypto.pbkdf2 = ((...args: Parameters<typeof real>) => {
    derivations++;
    return real(...args);
  }) as typeof real;
  syncBuiltinESMExports();
  try {
    return { result: await fn(), derivations };
  } finally {
    crypto.pbkdf2 = real;
    syncBuiltinESMExports();
  }
}

test("a snapshot proved ours once is not derived again: one key derivation a run, not one a snapshot; a changed MAC file, size or passphrase is checked again", async (t) => {
  const f = await fixture(t, { retain: { last: 10 } });
  const real: string[] = [];
  for (let day = 1; day <= 6; day++) real.push(await f.backupAt(`2026-03-0${day}T10:00:00Z`));
  const owned = async (config = f.config) => {
    const listed = await listSnapshotsWithRetention({ config, stateDir: f.stateDir });
    assert.ok(listed.ok);
    return listed.snapshots.filter((s) => s.keptBy.length > 0).map((s) => s.name).sort();
  };
  const first = await countDerivations(() => owned());
  assert.deepEqual(first.result, [...real].sort());
  assert.ok(first.derivations >= real.length, `each snapshot proved once (${first.derivations})`);
  const second = await countDerivations(() => owned());
  assert.deepEqual(second.result, [...real].sort());
  assert.equal(second.derivations, 1, "one derivation: the passphrase's check against the state folder's record");
  const cache = await fsp.readFile(path.join(f.stateDir, "workspace-sync", "owned-snapshots.json"), "utf8");
  assert.ok(!cache.includes(PASS), "no passphrase in the state folder");

  // A MAC file edited in storage (its name tag), and a snapshot cut short: checked in full again, not ours.
  const macFile = path.join(f.snaps, `${real[5]}.mac`);
  const mac = JSON.parse(await fsp.readFile(macFile, "utf8")) as Record<string, string>;
  const tag = mac.nameTag!;
  await fsp.writeFile(macFile, JSON.stringify({ ...mac, nameTag: `${tag.slice(0, -1)}${tag.endsWith("0") ? "1" : "0"}` }) + "\n");
  await fsp.truncate(path.join(f.snaps, real[4]!), 100);
  const edited = await countDerivations(() => owned());
  assert.deepEqual(edited.result, real.slice(0, 4).sort());
  assert.equal(edited.derivations, 2, "the check's derivation, and the edited MAC file's");

  // Another passphrase: the record does not count, and nothing of the old one's is ours.
  await fsp.writeFile(macFile, JSON.stringify(mac) + "\n");
  const other = resolveConfig({ ...f.config, backup: { ...f.config.backup!, passphrase: "a new passphrase" } });
  const otherRun = await countDerivations(() => owned(other));
  assert.deepEqual(otherRun.result, []);
  assert.ok(otherRun.derivations >= real.length - 1, "each MAC file checked in full");
  // The first passphrase again, the MAC file put back: it is proved once more, then held again.
  const back = await countDerivations(() => owned());
  assert.deepEqual(back.result, [...real.slice(0, 4), real[5]!].sort());
  assert.equal(back.derivations, 2, "the check's, and the restored MAC file's (its proof was let go when it failed)");
  assert.equal((await countDerivations(() => owned())).derivations, 1);
});

test("the proofs kept in the state folder never pass to another passphrase, even when runs with both overlap", async (t) => {
  const { OwnedCache } = await import("../src/backup/owned-cache.js");
  const { dir, cleanup } = await tempDir("ws-owned-cache-");
  t.after(cleanup);
  const where = "local:/cloud\nbackups";
  // A run with passphrase A records a proof; a later run with A loads it (one key derivation).
  const first = new OwnedCache(dir, where, "passphrase A", 1000);
  assert.equal(await first.ownedBefore("n1", "d1"), false);
  await first.save(new Map([["n1", "d1"]]));
  const a = new OwnedCache(dir, where, "passphrase A", 1000);
  assert.equal(await a.ownedBefore("n1", "d1"), true);
  // Meanwhile a run with passphrase B writes its own record, then run A saves last.
  const b = new OwnedCache(dir, where, "passphrase B", 1000);
  assert.equal(await b.ownedBefore("n1", "d1"), false);
  await b.save(new Map([["m1", "e1"]]));
  await a.save(new Map([["n1", "d1"], ["n2", "d2"]]));
  // A's proofs are never B's.
  const later = new OwnedCache(dir, where, "passphrase B", 1000);
  assert.equal(await later.ownedBefore("n1", "d1"), false);
  assert.equal(await later.ownedBefore("n2", "d2"), false);
  assert.equal(await new OwnedCache(dir, where, "passphrase A", 1000).ownedBefore("n2", "d2"), true);
});
