/**
 * Authenticated snapshots against an attacker who can read, write, rename and delete objects in the
 * backup storage but does not know the passphrase. Shared by the local-provider and the RGW tests:
 * every attack goes through the real provider (the S3 one talks to Ceph RGW through the AWS SDK).
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { listBackupSnapshots, runBackup, runRestore, type RunRestoreResult } from "../src/backup/index.js";
import { verifySnapshots } from "../src/backup/verify.js";
import { listSnapshotsWithRetention } from "../src/backup/list.js";
import { loadSyncConfig } from "../src/config/index.js";
import { silentLogger } from "../src/logger.js";
import type { ReadOptions } from "../src/providers/types.js";
import type { StorageProvider } from "../src/providers/types.js";
import { expectedWorkspace, sampleAgent, tempDir, treeDiff, treeFingerprint } from "./support/tree.js";

export const PASS = "correct horse battery staple ✓";

/** One backend under test. */
export interface AuthFixture {
  /** Temp folder for workspaces, restores, CLI files. */
  dir: string;
  workspaceDir: string;
  stateDir: string;
  /** The config: backups to the backend under test, encrypted, PBKDF2 with few iterations (fast tests). */
  config(extra?: Record<string, unknown>): Record<string, unknown>;
  /** The attacker's handle on the same storage (paths relative to the snapshot folder). */
  storage: StorageProvider;
}

export type MakeFixture = (t: TestContext) => Promise<Omit<AuthFixture, "dir" | "workspaceDir" | "stateDir"> | undefined>;

async function fixture(t: TestContext, make: MakeFixture, base?: string): Promise<AuthFixture | undefined> {
  let dir = base;
  if (!dir) {
    const tmp = await tempDir("ws-auth-");
    t.after(tmp.cleanup);
    dir = tmp.dir;
  }
  const backend = await make(t);
  if (!backend) return undefined;
  const agent = await sampleAgent(path.join(dir, "agent"));
  return { dir, ...agent, ...backend };
}

// ---- the attacker's tools: plain object operations, no passphrase ----

export async function readAll(p: StorageProvider, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await p.read(key)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function put(p: StorageProvider, key: string, data: Buffer | string): Promise<void> {
  await p.write(key, Readable.from([Buffer.from(data)]));
}

export async function rename(p: StorageProvider, from: string, to: string): Promise<void> {
  await put(p, to, await readAll(p, from));
  await p.delete(from);
}

export async function names(p: StorageProvider): Promise<string[]> {
  const out: string[] = [];
  for await (const e of p.list("", { recursive: false })) out.push(e.path);
  return out.sort();
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** Recomputes the `.sha256` file of `name`, as an attacker with write access to the bucket can. */
async function forgeChecksum(p: StorageProvider, name: string): Promise<void> {
  await put(p, `${name}.sha256`, `${sha256(await readAll(p, name))}  ${name}\n`);
}

// ---- helpers ----

async function backupAt(f: AuthFixture, iso: string, extra: Record<string, unknown> = {}): Promise<string> {
  const b = await runBackup({ syncConfig: f.config({ retain: -1, ...extra }), workspaceDir: f.workspaceDir, stateDir: f.stateDir, now: () => new Date(iso), skipPrune: true });
  assert.ok(b.ok, JSON.stringify(b));
  return b.snapshotName;
}

let restores = 0;
async function restore(f: AuthFixture, snapshotName: string, extra: Partial<Parameters<typeof runRestore>[0]> = {}, config: Record<string, unknown> = {}): Promise<{ r: RunRestoreResult; to: string }> {
  const to = path.join(f.dir, `restore-${++restores}`);
  const r = await runRestore({ syncConfig: f.config(config), workspaceDir: f.workspaceDir, stateDir: f.stateDir, snapshotName, restoreTo: to, ...extra });
  return { r, to };
}

/** Asserts a refused restore: the code, a message matching `re`, and no trace in the target. */
async function assertRefused(f: AuthFixture, snapshotName: string, code: string, re: RegExp, extra: Partial<Parameters<typeof runRestore>[0]> = {}, config: Record<string, unknown> = {}): Promise<string> {
  // Into an existing empty folder (must stay empty) and into a new path (must not be created).
  const existing = path.join(f.dir, `existing-${++restores}`);
  await fsp.mkdir(existing);
  const a = await runRestore({ syncConfig: f.config(config), workspaceDir: f.workspaceDir, stateDir: f.stateDir, snapshotName, restoreTo: existing, ...extra });
  assert.equal(a.ok, false, `restore of ${snapshotName} must fail`);
  assert.equal(!a.ok && a.code, code, !a.ok ? a.error : "");
  assert.match(!a.ok ? a.error : "", re);
  assert.ok(!a.ok && !a.error.includes(PASS), "the passphrase never appears in errors");
  assert.deepEqual(await fsp.readdir(existing), [], "the target is left as it was");
  const { r, to } = await restore(f, snapshotName, extra, config);
  assert.equal(!r.ok && r.code, code);
  await assert.rejects(fsp.stat(to), /ENOENT/, "a new target is not created");
  return !a.ok ? a.error : "";
}

async function assertVerifyFails(f: AuthFixture, snapshotName: string, code: string, config: Record<string, unknown> = {}): Promise<void> {
  const v = await verifySnapshots({ syncConfig: f.config(config), stateDir: f.stateDir, snapshotName });
  assert.ok(v.ok, JSON.stringify(v));
  const s = v.snapshots[0];
  assert.ok(s && !s.ok && s.code === code, JSON.stringify(v.snapshots));
}

/** A legacy snapshot as the plugin made it: `tar -cz | openssl enc -pbkdf2 -iter 1000`, uploaded as `name`. */
export async function legacySnapshot(f: AuthFixture, name: string, files: Record<string, string> = { "legacy/old.txt": "old data\n" }, passphrase = PASS): Promise<void> {
  const src = path.join(f.dir, `legacy-src-${name}`);
  for (const [rel, content] of Object.entries(files)) {
    await fsp.mkdir(path.dirname(path.join(src, rel)), { recursive: true });
    await fsp.writeFile(path.join(src, rel), content);
  }
  const out = path.join(f.dir, `legacy-${name}`);
  const top = [...new Set(Object.keys(files).map((k) => k.split("/")[0] as string))];
  execFileSync("sh", ["-c", 'dir="$1"; out="$2"; shift 2; tar -cz -C "$dir" "$@" | openssl enc -aes-256-cbc -salt -pbkdf2 -iter 1000 -pass env:PASS -out "$out"', "sh", src, out, ...top], {
    env: { ...process.env, PASS: passphrase },
  });
  await put(f.storage, name, await fsp.readFile(out));
}

/** `p`, with what each read asked for and how many bytes its reader took, by key. */
function countingReads(p: StorageProvider): { provider: StorageProvider; reads: { key: string; options: ReadOptions; taken: number }[] } {
  const reads: { key: string; options: ReadOptions; taken: number }[] = [];
  const provider: StorageProvider = Object.create(p) as StorageProvider;
  provider.read = async (key, options = {}) => {
    const stream = await p.read(key, options);
    const read = { key, options, taken: 0 };
    reads.push(read);
    stream.on("data", (c: Buffer) => (read.taken += c.length));
    return stream;
  };
  return { provider, reads };
}

// ---- the suite ----

export function authSuite(label: string, make: MakeFixture): void {
  const it = (name: string, fn: (f: AuthFixture, t: TestContext) => Promise<void>) =>
    test(`${label}: ${name}`, async (t) => {
      const f = await fixture(t, make);
      if (f) await fn(f, t);
    });

  it("a new snapshot has a MAC file, restores authenticated, and openssl enc -d | tar -xz still reads it", async (f) => {
    const name = await backupAt(f, "2026-03-01T10:00:00.250Z");
    assert.deepEqual(await names(f.storage), [name, `${name}.mac`, `${name}.sha256`]);
    const mac = JSON.parse((await readAll(f.storage, `${name}.mac`)).toString("utf8")) as Record<string, unknown>;
    assert.equal(mac.snapshot, name);
    assert.equal(mac.created, "2026-03-01T10:00:00.250Z");
    assert.equal(mac.algorithm, "hmac-sha256");
    assert.ok(!JSON.stringify(mac).includes(PASS));
    const { r, to } = await restore(f, "latest");
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.authenticated, true);
    assert.equal(r.verified, true);
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(treeDiff(await expectedWorkspace(f.workspaceDir), await treeFingerprint(path.join(to, "workspace"))), []);
    const v = await verifySnapshots({ syncConfig: f.config(), stateDir: f.stateDir, snapshotName: "all" });
    assert.ok(v.ok && v.snapshots[0]?.ok && v.snapshots[0].authenticated, JSON.stringify(v));

    // The command-line pipeline, on the bytes as stored.
    const file = path.join(f.dir, "downloaded.enc");
    await fsp.writeFile(file, await readAll(f.storage, name));
    const out = path.join(f.dir, "cli-out");
    await fsp.mkdir(out);
    execFileSync("sh", ["-c", 'openssl enc -d -aes-256-cbc -pbkdf2 -iter 1000 -pass env:PASS -in "$1" | tar -xz -C "$2"', "sh", file, out], { env: { ...process.env, PASS } });
    assert.deepEqual(treeDiff(await expectedWorkspace(f.workspaceDir), await treeFingerprint(path.join(out, "workspace"))), []);
    execFileSync("sh", ["-c", 'openssl enc -d -aes-256-cbc -pbkdf2 -iter 1000 -pass env:PASS -in "$1" | gzip -t', "sh", file], { env: { ...process.env, PASS } });
  });

  it("wrong passphrase: WRONG_PASSPHRASE (told apart by the MAC file), target untouched; verify says the same", async (f) => {
    const name = await backupAt(f, "2026-03-01T10:00:00Z");
    const msg = await assertRefused(f, name, "WRONG_PASSPHRASE", /wrong passphrase/i, {}, { passphrase: "not the passphrase" });
    assert.ok(!msg.includes("not the passphrase"));
    await assertVerifyFails(f, name, "WRONG_PASSPHRASE", { passphrase: "not the passphrase" });
  });

  it("a flipped bit anywhere (magic, salt, first block, middle, last block): SNAPSHOT_TAMPERED", async (f) => {
    const name = await backupAt(f, "2026-03-01T10:00:00Z");
    const good = await readAll(f.storage, name);
    for (const at of [0, 9, 16, 40, Math.floor(good.length / 2), good.length - 20, good.length - 1]) {
      const bad = Buffer.from(good);
      bad[at] = (bad[at] as number) ^ 0x01;
      await put(f.storage, name, bad);
      await forgeChecksum(f.storage, name); // the attacker fixes the SHA-256 too: it no longer matters
      await assertRefused(f, name, "SNAPSHOT_TAMPERED", /does not match its MAC|changed in storage/);
    }
    await assertVerifyFails(f, name, "SNAPSHOT_TAMPERED");
    await put(f.storage, name, good);
    const { r } = await restore(f, name);
    assert.ok(r.ok && r.authenticated, "the original bytes still restore");
  });

  it("truncation at block boundaries: SNAPSHOT_TRUNCATED; a size forged in the MAC file: SNAPSHOT_TAMPERED", async (f) => {
    const name = await backupAt(f, "2026-03-01T10:00:00Z");
    const good = await readAll(f.storage, name);
    const cuts = new Set([0, 8, 16, 32, 48, 64, good.length - 32, good.length - 16]);
    for (let cut = 16; cut < good.length; cut += Math.max(16, Math.floor(good.length / 16 / 16) * 16)) cuts.add(cut);
    for (const cut of [...cuts].sort((a, b) => a - b)) {
      await put(f.storage, name, good.subarray(0, cut));
      await assertRefused(f, name, "SNAPSHOT_TRUNCATED", new RegExp(`truncated: ${cut} of the ${good.length} bytes`));
    }
    await assertVerifyFails(f, name, "SNAPSHOT_TRUNCATED");
    // The attacker also edits the recorded size: the MAC binds it.
    const cut = good.length - 16;
    await put(f.storage, name, good.subarray(0, cut));
    const mac = JSON.parse((await readAll(f.storage, `${name}.mac`)).toString("utf8")) as Record<string, unknown>;
    await put(f.storage, `${name}.mac`, JSON.stringify({ ...mac, size: cut }) + "\n");
    await assertRefused(f, name, "SNAPSHOT_TAMPERED", /does not match its MAC/);
  });

  it("rollback: the week-old snapshot renamed to the newest name (MAC file renamed, checksum recomputed) is refused", async (f) => {
    const old = await backupAt(f, "2026-03-01T10:00:00Z");
    await fsp.writeFile(path.join(f.workspaceDir, "notes", "today.md"), "new data\n");
    const newest = await backupAt(f, "2026-03-08T10:00:00Z");
    // Substitution: an attacker with write access puts the old snapshot in the newest one's place.
    for (const n of [newest, `${newest}.mac`, `${newest}.sha256`]) await f.storage.delete(n);
    await rename(f.storage, old, newest);
    await rename(f.storage, `${old}.mac`, `${newest}.mac`);
    await forgeChecksum(f.storage, newest);
    await assertRefused(f, "latest", "SNAPSHOT_SUBSTITUTED", new RegExp(`not the snapshot its MAC file authenticates \\(${old.replace(/\./g, "\\.")}`));
    await assertVerifyFails(f, "latest", "SNAPSHOT_SUBSTITUTED");
    // ... with the name inside the MAC file edited as well: the MAC binds the name.
    const mac = JSON.parse((await readAll(f.storage, `${newest}.mac`)).toString("utf8")) as Record<string, unknown>;
    await put(f.storage, `${newest}.mac`, JSON.stringify({ ...mac, snapshot: newest, created: "2026-03-08T10:00:00.000Z" }) + "\n");
    await assertRefused(f, "latest", "SNAPSHOT_TAMPERED", /does not match its MAC/);
    // ... or with the MAC file deleted: the mark inside says it had one.
    await f.storage.delete(`${newest}.mac`);
    await assertRefused(f, "latest", "SNAPSHOT_UNAUTHENTICATED", /was written with a MAC, but its MAC file .* is missing/);
    await assertVerifyFails(f, "latest", "SNAPSHOT_UNAUTHENTICATED");
  });

  it("rollback by deletion: a latest restore says when the newest snapshot this host wrote is gone", async (f) => {
    await backupAt(f, "2026-03-01T10:00:00Z");
    // Recorded as this host's last snapshot only through runBackup's own bookkeeping.
    const b = await runBackup({ syncConfig: f.config({ retain: -1 }), workspaceDir: f.workspaceDir, stateDir: f.stateDir, now: () => new Date("2026-03-08T10:00:00Z"), skipPrune: true });
    assert.ok(b.ok);
    for (const n of [b.snapshotName, `${b.snapshotName}.mac`, `${b.snapshotName}.sha256`]) await f.storage.delete(n);
    const { r } = await restore(f, "latest");
    assert.ok(r.ok && r.authenticated, JSON.stringify(r));
    assert.match(r.warnings.join("\n"), new RegExp(`newest snapshot this host wrote, ${b.snapshotName.replace(/\./g, "\\.")}, is not in the backup storage`));
  });

  it("a swapped MAC file: another snapshot's (SUBSTITUTED), or one made with another passphrase and edited (TAMPERED)", async (f) => {
    const a = await backupAt(f, "2026-03-01T10:00:00Z");
    const b = await backupAt(f, "2026-03-02T10:00:00Z");
    const macA = await readAll(f.storage, `${a}.mac`);
    const macB = await readAll(f.storage, `${b}.mac`);
    await put(f.storage, `${b}.mac`, macA);
    await assertRefused(f, b, "SNAPSHOT_SUBSTITUTED", /renamed or swapped/);
    // From a repository with another passphrase, its name edited to match.
    const c = await backupAt(f, "2026-03-03T10:00:00Z", { passphrase: "another passphrase" });
    const macC = JSON.parse((await readAll(f.storage, `${c}.mac`)).toString("utf8")) as Record<string, unknown>;
    await f.storage.delete(c);
    await f.storage.delete(`${c}.mac`);
    await f.storage.delete(`${c}.sha256`);
    await put(f.storage, `${b}.mac`, JSON.stringify({ ...macC, snapshot: b }) + "\n");
    await assertRefused(f, b, "SNAPSHOT_TAMPERED", /MAC file of .* does not belong to it/);
    await put(f.storage, `${b}.mac`, "garbage");
    await assertRefused(f, b, "SNAPSHOT_TAMPERED", /MAC file of .* is not valid/);
    await put(f.storage, `${b}.mac`, macB);
    const { r } = await restore(f, b);
    assert.ok(r.ok && r.authenticated, JSON.stringify(r));
  });

  it("deleting every MAC file does not downgrade: the newest is refused, and so is an old legacy snapshot renamed newest", async (f) => {
    await legacySnapshot(f, "backup-20250101T000000Z.tar.gz.enc");
    const first = await backupAt(f, "2026-03-01T10:00:00Z");
    const second = await backupAt(f, "2026-03-02T10:00:00Z");
    for (const n of await names(f.storage)) if (n.endsWith(".mac")) await f.storage.delete(n);
    await assertRefused(f, second, "SNAPSHOT_UNAUTHENTICATED", /was written with a MAC/);
    await assertRefused(f, first, "SNAPSHOT_UNAUTHENTICATED", /was written with a MAC/);
    // The legacy snapshot under a new name: no mark of its own, but older snapshots carry the mark.
    await rename(f.storage, "backup-20250101T000000Z.tar.gz.enc", "backup-20260309T000000Z.tar.gz.enc");
    await forgeChecksum(f.storage, "backup-20260309T000000Z.tar.gz.enc");
    await assertRefused(f, "latest", "SNAPSHOT_UNAUTHENTICATED", new RegExp(`older snapshot ${second.replace(/\./g, "\\.")} is authenticated`));
  });

  it("legacy snapshots restore with a warning; requireAuthenticated (config or API) refuses them", async (f) => {
    const name = "backup-20250101T000000Z.tar.gz.enc";
    await legacySnapshot(f, name);
    const { r, to } = await restore(f, name);
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.authenticated, false);
    assert.match(r.warnings.join("\n"), /not authenticated/);
    assert.equal(await fsp.readFile(path.join(to, "legacy", "old.txt"), "utf8"), "old data\n");
    await assertRefused(f, name, "SNAPSHOT_UNAUTHENTICATED", /backup\.requireAuthenticated/, {}, { requireAuthenticated: true });
    await assertRefused(f, name, "SNAPSHOT_UNAUTHENTICATED", /unauthenticated snapshots are refused/, { requireAuthenticated: true });
    await assertVerifyFails(f, name, "SNAPSHOT_UNAUTHENTICATED", { requireAuthenticated: true });
    const v = await verifySnapshots({ syncConfig: f.config(), stateDir: f.stateDir, snapshotName: name });
    assert.ok(v.ok && v.snapshots[0]?.ok && !v.snapshots[0].authenticated && /not authenticated/.test(v.snapshots[0].warning ?? ""), JSON.stringify(v));
  });

  it("an unauthenticated snapshot newer than an authenticated one is refused unless allowUnauthenticated", async (f) => {
    await backupAt(f, "2026-03-01T10:00:00Z");
    const name = "backup-20260305T000000Z.tar.gz.enc";
    await legacySnapshot(f, name);
    await assertRefused(f, "latest", "SNAPSHOT_UNAUTHENTICATED", /has no MAC, but the older snapshot/);
    const { r } = await restore(f, "latest", { allowUnauthenticated: true });
    assert.ok(r.ok && !r.authenticated, JSON.stringify(r));
    // An unencrypted snapshot put there by someone else (with its SHA-256): refused the same way.
    const plain = "backup-20260306T000000Z.tar.gz";
    const tgz = execFileSync("sh", ["-c", 'cd "$1" && tar -cz workspace', "sh", path.dirname(f.workspaceDir)]);
    await put(f.storage, plain, tgz);
    await forgeChecksum(f.storage, plain);
    await assertRefused(f, "latest", "SNAPSHOT_UNAUTHENTICATED", /is not encrypted, so it cannot be authenticated|has no MAC, but the older snapshot/);
  });

  it("a MAC file beside an unencrypted snapshot, and a snapshot whose name is only claimed, are refused", async (f) => {
    const name = await backupAt(f, "2026-03-01T10:00:00Z");
    const plain = "backup-20260301T100000Z.tar.gz";
    await put(f.storage, plain, execFileSync("sh", ["-c", 'cd "$1" && tar -cz workspace', "sh", path.dirname(f.workspaceDir)]));
    await put(f.storage, `${plain}.mac`, (await readAll(f.storage, `${name}.mac`)).toString("utf8").replace(name, plain));
    await assertRefused(f, plain, "SNAPSHOT_SUBSTITUTED", /not encrypted but has a MAC file/);
    // A MAC file deleted and a name claim put in place of the checksum.
    await f.storage.delete(`${name}.mac`);
    await put(f.storage, `${name}.sha256`, "# workspace-sync: name claimed by a backup in progress (claim 0123456789abcdef, since 2026-03-01T10:00:00.000Z)\n");
    await assertRefused(f, name, "SNAPSHOT_UNAUTHENTICATED", /still claimed by a backup/);
  });

  it("a plugin-era snapshot is judged from its head: a listing asks for its first 80 bytes only, not the whole", async (f) => {
    const big = { "legacy/noise.txt": randomBytes(3 * 1024 * 1024).toString("base64") };
    const ours = "backup-20250101T000000Z.tar.gz.enc";
    const theirs = "backup-20250102T000000Z.tar.gz.enc";
    await legacySnapshot(f, ours, big);
    await legacySnapshot(f, theirs, big, "another passphrase");
    // The first 100 bytes of ours: its head decrypts, its size says it is cut.
    const cut = "backup-20250103T000000Z.tar.gz.enc";
    await put(f.storage, cut, (await readAll(f.storage, ours)).subarray(0, 100));
    const { provider, reads } = countingReads(f.storage);
    const listed = await listSnapshotsWithRetention({ config: loadSyncConfig(f.config({ retain: { last: 5 } }), silentLogger), stateDir: f.stateDir, provider });
    assert.ok(listed.ok, JSON.stringify(listed));
    const byName = new Map(listed.snapshots.map((s) => [s.name, s]));
    assert.equal(byName.get(ours)?.notOurs, undefined, "its own passphrase decrypts it: counted as ours");
    assert.match(byName.get(theirs)?.notOurs ?? "", /does not decrypt with the configured passphrase/);
    assert.match(byName.get(cut)?.notOurs ?? "", /it is truncated \(100 bytes/);
    for (const name of [ours, theirs]) {
      const of = reads.filter((r) => r.key.endsWith(name));
      assert.equal(of.length, 1, `one read of ${name}`);
      // The header and four cipher blocks: the 34-byte mark, and the block the decryption holds back.
      assert.equal(of[0]!.options.end, 79, `the read of ${name} asks for a range`);
      assert.equal(of[0]!.taken, 80, `the provider gave ${of[0]!.taken} bytes of ${name}`);
    }
  });

  it("two writers with different state folders on one folder: 6 concurrent backups in the same second all succeed, each authenticated under its own name", async (f, t) => {
    const other = await fixture(t, async () => ({ config: f.config, storage: f.storage }), path.join(f.dir, "writer2"));
    assert.ok(other);
    const now = () => new Date("2026-03-10T02:00:00.500Z");
    const runs = [f, other, f, other, f, other].map((w, i) =>
      runBackup({ syncConfig: f.config({ retain: -1 }), workspaceDir: w.workspaceDir, stateDir: path.join(w.stateDir, `s${i}`), now, skipPrune: true }),
    );
    const results = await Promise.all(runs);
    for (const r of results) assert.ok(r.ok, JSON.stringify(r));
    const made = results.map((r) => (r.ok ? r.snapshotName : "")).sort();
    assert.equal(new Set(made).size, 6, `distinct names: ${made.join(", ")}`);
    const list = await listBackupSnapshots({ syncConfig: f.config(), stateDir: f.stateDir });
    assert.ok(list.ok);
    assert.deepEqual([...list.snapshots].sort(), made);
    const v = await verifySnapshots({ syncConfig: f.config(), stateDir: f.stateDir, snapshotName: "all" });
    assert.ok(v.ok);
    for (const s of v.snapshots) assert.ok(s.ok && s.authenticated, JSON.stringify(s));
    // The MAC binds the name finally used: each MAC file names its own snapshot.
    for (const n of made) assert.equal((JSON.parse((await readAll(f.storage, `${n}.mac`)).toString("utf8")) as { snapshot: string }).snapshot, n);
    for (const n of made) assert.match((await readAll(f.storage, `${n}.sha256`)).toString("utf8"), /^[0-9a-f]{64} {2}/);
  });
}
