/**
 * Authenticated snapshots on the local provider: the attacks of backup-auth-suite.ts, plus what
 * only a folder shows (restore staging folders, the CLI flags).
 */
import { test } from "node:test";
import { formatSnapshotName } from "../src/snapshot/index.js";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runRestore } from "../src/backup/index.js";
import { createLocalProvider } from "../src/providers/local/index.js";
import { PASS, authSuite, legacySnapshot, put, readAll } from "./backup-auth-suite.js";
import { sampleAgent, tempDir } from "./support/tree.js";

authSuite("local", async (t) => {
  const { dir, cleanup } = await tempDir("ws-auth-cloud-");
  t.after(cleanup);
  const root = path.join(dir, "cloud");
  return {
    storage: createLocalProvider({ root }),
    config: (extra = {}) => ({ backup: { enabled: true, provider: "local", local: { root }, encrypt: true, passphrase: PASS, kdfIterations: 1000, ...extra } }),
  };
});

async function localFixture(t: { after: (fn: () => Promise<void>) => void }) {
  const { dir, cleanup } = await tempDir("ws-auth-");
  t.after(cleanup);
  const root = path.join(dir, "cloud");
  const agent = await sampleAgent(path.join(dir, "agent"));
  const f = {
    dir,
    root,
    ...agent,
    storage: createLocalProvider({ root }),
    config: (extra: Record<string, unknown> = {}) => ({ backup: { enabled: true, provider: "local", local: { root }, encrypt: true, passphrase: PASS, kdfIterations: 1000, ...extra } }),
  };
  return f;
}

test("a user folder named like a restore's staging folder is data: restored, and never removed by the next restore", async (t) => {
  const f = await localFixture(t);
  const name = "backup-20250101T000000Z.tar.gz.enc";
  await legacySnapshot(f, name, { ".ws-restore-partial-x/keep.txt": "mine\n" });
  const to = path.join(f.dir, "target");
  const first = await runRestore({ syncConfig: f.config(), workspaceDir: f.workspaceDir, stateDir: f.stateDir, snapshotName: name, restoreTo: to });
  assert.ok(first.ok, JSON.stringify(first));
  assert.deepEqual(await fsp.readdir(to), [".ws-restore-partial-x"]);
  const again = await runRestore({ syncConfig: f.config(), workspaceDir: f.workspaceDir, stateDir: f.stateDir, snapshotName: name, restoreTo: to });
  assert.equal(!again.ok && again.code, "TARGET_NOT_EMPTY");
  assert.equal(await fsp.readFile(path.join(to, ".ws-restore-partial-x", "keep.txt"), "utf8"), "mine\n", "the user's folder is intact");
  // A folder of that name that this library did not record is never removed, even when empty.
  const other = path.join(f.dir, "other");
  await fsp.mkdir(path.join(other, ".ws-restore-partial-0badc0de"), { recursive: true });
  const third = await runRestore({ syncConfig: f.config(), workspaceDir: f.workspaceDir, stateDir: f.stateDir, snapshotName: name, restoreTo: other });
  assert.equal(!third.ok && third.code, "TARGET_NOT_EMPTY");
  assert.deepEqual(await fsp.readdir(other), [".ws-restore-partial-0badc0de"]);
});

test("a damaged legacy snapshot says the passphrase may be wrong (no MAC to tell)", async (t) => {
  const f = await localFixture(t);
  const name = "backup-20250101T000000Z.tar.gz.enc";
  await legacySnapshot(f, name, { "legacy/a.txt": "x".repeat(200_000) });
  const bytes = await readAll(f.storage, name);
  bytes[Math.floor(bytes.length / 2)] ^= 0x10;
  await put(f.storage, name, bytes);
  const r = await runRestore({ syncConfig: f.config(), workspaceDir: f.workspaceDir, stateDir: f.stateDir, snapshotName: name, restoreTo: path.join(f.dir, "r") });
  assert.equal(!r.ok && r.code, "SNAPSHOT_CORRUPT");
  assert.match(!r.ok ? r.error : "", /Or the passphrase is wrong: this snapshot has no MAC/);
});

const cliPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "src", "cli", "main.js");

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test("CLI: restore and verify report authentication; --require-authenticated refuses a legacy snapshot, --allow-unauthenticated reads one that is refused by default", async (t) => {
  const f = await localFixture(t);
  const configFile = path.join(f.dir, "config.json");
  await fsp.writeFile(configFile, JSON.stringify(f.config({ passphrase: "${BACKUP_PASSPHRASE}" })));
  const env = { BACKUP_PASSPHRASE: PASS };
  const base = ["--config", configFile, "--workspace", f.workspaceDir, "--state-dir", f.stateDir];
  const now = await cli([...base, "backup", "now"], env);
  assert.equal(now.code, 0, now.stderr);
  const restored = await cli([...base, "backup", "restore", "--to", path.join(f.dir, "r1")], env);
  assert.equal(restored.code, 0, restored.stderr);
  assert.match(restored.stdout, /Authenticated: MAC verified/);
  const verified = await cli([...base, "backup", "verify"], env);
  assert.equal(verified.code, 0, verified.stderr);
  assert.match(verified.stdout, /^OK {7}backup-.*\(MAC verified\)$/m);

  // A legacy snapshot newer than the authenticated one (an hour ahead: one dated further in the
  // future is not counted as ours, and "latest" passes over it): refused, unless the user says otherwise.
  const legacy = formatSnapshotName(new Date(Date.now() + 3600_000), true);
  await legacySnapshot(f, legacy);
  const refused = await cli([...base, "backup", "restore", "--to", path.join(f.dir, "r2")], env);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /has no MAC, but the older snapshot .* --allow-unauthenticated/);
  await assert.rejects(fsp.stat(path.join(f.dir, "r2")), /ENOENT/);
  const allowed = await cli([...base, "backup", "restore", "--allow-unauthenticated", "--to", path.join(f.dir, "r3")], env);
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.match(allowed.stderr, new RegExp(`Warning: Snapshot ${legacy.replace(/\./g, "\\.")} is not authenticated`));
  const strict = await cli([...base, "backup", "restore", "--require-authenticated", "--snapshot", legacy, "--to", path.join(f.dir, "r4")], env);
  assert.equal(strict.code, 1);
  assert.match(strict.stderr, /unauthenticated snapshots are refused/);
  const strictVerify = await cli([...base, "backup", "verify", "--all", "--require-authenticated"], env);
  assert.equal(strictVerify.code, 1);
  assert.match(strictVerify.stdout, new RegExp(`DAMAGED {2}${legacy.replace(/\./g, "\\.")}: Snapshot .* has no MAC`));
  assert.match(strictVerify.stdout, /^OK .*\(MAC verified\)$/m);
});
