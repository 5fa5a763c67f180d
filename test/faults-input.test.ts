/**
 * Bad input gets a clear typed error naming the fix, and never loses data: malformed JSON, unknown
 * keys (a warning), wrong types, missing credentials, a bucket that does not exist, an expired
 * Dropbox token, a passphrase full of unicode and shell metacharacters (interoperable with
 * `openssl enc -pass env:`), and hostile file names (newlines, NFC vs NFD, very deep trees, names
 * differing only in case) through backup/restore and through sync to the case-insensitive Dropbox.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { runBackup, runRestore } from "../src/backup/index.js";
import { loadConfigFile, resolveConfig } from "../src/config/index.js";
import type { SyncSettings } from "../src/config/types.js";
import { isWorkspaceSyncError } from "../src/errors.js";
import type { Logger } from "../src/logger.js";
import { createDropboxProvider } from "../src/providers/dropbox/index.js";
import { runSync } from "../src/sync/index.js";
import { runSyncWithProvider } from "../src/sync/run.js";
import { startDropboxFake } from "./support/dropbox-fake.js";
import { s3TestSettings } from "./support/s3.js";
import { tempDir, treeDiff, treeFingerprint, writeTree } from "./support/tree.js";
import { syncSettings } from "./sync-suite.js";

function recorder(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: () => undefined, warn: (m) => void lines.push(`warn ${m}`), error: (m) => void lines.push(`error ${m}`) };
}

async function workspace(t: { after: (fn: () => Promise<void>) => void }): Promise<{ dir: string; ws: string; stateDir: string; before: Map<string, string> }> {
  const { dir, cleanup } = await tempDir("ws-input-");
  t.after(cleanup);
  const ws = path.join(dir, "workspace");
  await writeTree(ws, { "notes/a.md": "# a\n", "memory/MEMORY.md": "remember\n" });
  return { dir, ws, stateDir: path.join(dir, "state"), before: await treeFingerprint(ws) };
}

test("malformed JSON config: CONFIG_INVALID with file, line and column, without quoting the secret next to the error", async (t) => {
  const { dir } = await workspace(t);
  const file = path.join(dir, "config.json");
  // A missing comma right after the secret (a trailing comma would be valid JSON5, which is read).
  await fsp.writeFile(file, '{\n  "backup": {\n    "passphrase": "hunter2-secret"\n    "enabled": true\n  }\n}\n');
  await assert.rejects(loadConfigFile(file), (err: unknown) => {
    assert.ok(isWorkspaceSyncError(err, "CONFIG_INVALID"));
    assert.match(err.message, /config\.json:4:5/);
    assert.match(err.message, /expected "," or "\}" — fix the syntax/);
    assert.doesNotMatch(err.message, /hunter2/);
    return true;
  });
});

test("unknown keys are warned about (the backup still runs); wrong types are CONFIG_INVALID naming the key", async (t) => {
  const { dir, ws, stateDir, before } = await workspace(t);
  const logger = recorder();
  const good = { backup: { enabled: true, provider: "local", local: { root: path.join(dir, "cloud") }, encrypt: false, include: ["workspace"], retian: { last: 2 } } };
  const resolved = resolveConfig(good);
  assert.ok(resolved.warnings.some((w) => /retian/.test(w)), resolved.warnings.join("; "));
  const b = await runBackup({ syncConfig: good, workspaceDir: ws, stateDir, logger });
  assert.ok(b.ok, JSON.stringify(b));
  assert.ok(logger.lines.some((l) => l.startsWith("warn") && /retian/.test(l)), logger.lines.join("\n"));

  const bad = await runBackup({ syncConfig: { backup: { ...good.backup, enabled: "yes" } }, workspaceDir: ws, stateDir });
  assert.equal(bad.ok, false);
  assert.equal(!bad.ok && bad.code, "CONFIG_INVALID");
  assert.match(!bad.ok ? bad.error : "", /enabled/);
  const badSync = await runSync({ syncConfig: { provider: "local", local: { root: path.join(dir, "cloud") }, mode: "bisync", maxDelete: "ten" }, workspaceDir: ws, stateDir });
  assert.equal(badSync.ok, false);
  assert.equal(!badSync.ok && badSync.code, "CONFIG_INVALID");
  assert.match(!badSync.ok ? badSync.error : "", /maxDelete/);
  assert.deepEqual(treeDiff(before, await treeFingerprint(ws)), [], "the workspace is untouched");
});

test("missing credentials and passphrase: typed errors naming the setting, nothing written", async (t) => {
  const { dir, ws, stateDir, before } = await workspace(t);
  const noSecret = await runBackup({
    syncConfig: { backup: { enabled: true, provider: "s3", s3: { endpoint: "http://127.0.0.1:9", accessKeyId: "AKIAEXAMPLE" }, bucket: "b", encrypt: false } },
    workspaceDir: ws,
    stateDir,
  });
  assert.equal(!noSecret.ok && noSecret.code, "CONFIG_INVALID");
  assert.match(!noSecret.ok ? noSecret.error : "", /secretAccessKey/);
  const noPass = await runBackup({ syncConfig: { backup: { enabled: true, provider: "local", local: { root: path.join(dir, "cloud") }, encrypt: true } }, workspaceDir: ws, stateDir });
  assert.equal(!noPass.ok && noPass.code, "PASSPHRASE_MISSING");
  assert.match(!noPass.ok ? noPass.error : "", /backup\.passphrase/);
  const noToken = await runSync({ syncConfig: { provider: "dropbox", mode: "bisync", remotePath: "share" }, workspaceDir: ws, stateDir });
  assert.equal(noToken.ok, false);
  assert.ok(!noToken.ok && ["CONFIG_INVALID", "AUTH_EXPIRED"].includes(noToken.code), !noToken.ok ? noToken.code : "");
  assert.match(!noToken.ok ? noToken.error : "", /dropbox\.token|token/);
  await assert.rejects(fsp.access(path.join(dir, "cloud")), "no snapshot folder was created");
  assert.deepEqual(treeDiff(before, await treeFingerprint(ws)), []);
});

test("a bucket that does not exist: BUCKET_NOT_FOUND naming the bucket; sync deletes nothing", async (t) => {
  const s3 = await s3TestSettings(t);
  if (!s3) return;
  const { ws, stateDir, before } = await workspace(t);
  const bucket = `${s3.bucket}-missing`;
  const s3Config = { endpoint: s3.endpoint, region: s3.region, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, forcePathStyle: true, maxRetrySeconds: 0 };
  const b = await runBackup({ syncConfig: { backup: { enabled: true, provider: "s3", s3: s3Config, bucket, encrypt: false, include: ["workspace"] } }, workspaceDir: ws, stateDir });
  assert.equal(b.ok, false);
  assert.equal(!b.ok && b.code, "BUCKET_NOT_FOUND");
  assert.match(!b.ok ? b.error : "", new RegExp(`${bucket}.*(create it|fix s3\\.bucket)`));
  const s = await runSync({ syncConfig: { provider: "s3", s3: { ...s3Config, bucket }, mode: "bisync", remotePath: "share" }, workspaceDir: ws, stateDir });
  assert.equal(s.ok, false);
  assert.equal(!s.ok && s.code, "BUCKET_NOT_FOUND");
  assert.deepEqual(treeDiff(before, await treeFingerprint(ws)), [], "nothing local was deleted or changed");
});

test("an expired Dropbox token: AUTH_EXPIRED with re-authorization advice; nothing deleted; a new token resumes", async (t) => {
  const fake = await startDropboxFake();
  t.after(() => fake.close());
  const { ws, stateDir, before } = await workspace(t);
  const settings: SyncSettings = syncSettings({ provider: "dropbox", exclude: [], concurrency: 2 });
  const first = createDropboxProvider({ token: fake.issueAccessToken(), fetch: fake.fetch }, { logger: recorder(), stateDir });
  const ok1 = await runSyncWithProvider({ settings, provider: first, workspaceDir: ws, stateDir });
  assert.ok(ok1.ok);
  fake.expireTokens();
  const r = await runSyncWithProvider({ settings, provider: first, workspaceDir: ws, stateDir });
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.code, "AUTH_EXPIRED");
  assert.match(!r.ok ? r.error : "", /App Console|re-run authorization/);
  assert.deepEqual(treeDiff(before, await treeFingerprint(ws)), [], "nothing local was touched");
  assert.equal(fake.read("/share/notes/a.md")?.toString(), "# a\n", "nothing remote was touched");
  const fresh = createDropboxProvider({ token: fake.issueAccessToken(), fetch: fake.fetch }, { logger: recorder(), stateDir });
  const again = await runSyncWithProvider({ settings, provider: fresh, workspaceDir: ws, stateDir });
  assert.ok(again.ok);
  assert.deepEqual([again.uploaded, again.downloaded, again.deleted], [[], [], []]);
});

const NASTY_PASS = "pä$$wörd 🔑 \"$(touch /tmp/ws-pwned)\" `id` ; rm -rf ~ | cat & 'x' \\ * ? [a] {b} <c> #!%^~";

test("a passphrase with unicode and shell metacharacters works and matches openssl enc -pass env: both ways", async (t) => {
  const { dir, ws, stateDir } = await workspace(t);
  const cloud = path.join(dir, "cloud");
  const syncConfig = { backup: { enabled: true, provider: "local", local: { root: cloud }, encrypt: true, passphrase: NASTY_PASS, include: ["workspace"] } };
  const b = await runBackup({ syncConfig, workspaceDir: ws, stateDir });
  assert.ok(b.ok, JSON.stringify(b));
  const out = path.join(dir, "by-openssl");
  await fsp.mkdir(out);
  execFileSync("sh", ["-c", 'openssl enc -d -aes-256-cbc -pbkdf2 -iter 100000 -pass env:WS_PASS -in "$1" | tar -xz -C "$2"', "sh", path.join(cloud, b.snapshotName), out], {
    env: { ...process.env, WS_PASS: NASTY_PASS },
  });
  assert.deepEqual(treeDiff(await treeFingerprint(ws), await treeFingerprint(path.join(out, "workspace"))), []);
  await assert.rejects(fsp.access("/tmp/ws-pwned"), "nothing in the passphrase was executed");

  // The other way: openssl encrypts, we restore.
  const theirs = path.join(cloud, "backup-20200101T000000Z.tar.gz.enc");
  execFileSync("sh", ["-c", 'tar -cz -C "$1" workspace | openssl enc -aes-256-cbc -salt -pbkdf2 -iter 100000 -pass env:WS_PASS -out "$2"', "sh", dir, theirs], {
    env: { ...process.env, WS_PASS: NASTY_PASS },
  });
  const r = await runRestore({ syncConfig, workspaceDir: ws, stateDir, snapshotName: "backup-20200101T000000Z.tar.gz.enc", restoreTo: path.join(dir, "ours") });
  assert.ok(r.ok, JSON.stringify(r));
  assert.deepEqual(treeDiff(await treeFingerprint(ws), await treeFingerprint(path.join(dir, "ours", "workspace"))), []);

  // Passphrases are bytes: the NFD spelling of the same text is a different passphrase.
  const nfd = { backup: { ...syncConfig.backup, passphrase: NASTY_PASS.normalize("NFD") } };
  assert.notEqual(NASTY_PASS.normalize("NFD"), NASTY_PASS);
  const wrong = await runRestore({ syncConfig: nfd, workspaceDir: ws, stateDir, snapshotName: b.snapshotName, restoreTo: path.join(dir, "nfd") });
  assert.equal(!wrong.ok && wrong.code, "WRONG_PASSPHRASE");
  await assert.rejects(fsp.access(path.join(dir, "nfd")), "the failed restore left no staging folder");
  assert.doesNotMatch(!wrong.ok ? wrong.error : "", /wörd/, "the passphrase is not in the message");
});

/** Names that break naive tools: newline, NFC and NFD spellings, case-only twins, long components. */
const NFC = "caf\u00e9.txt";
const NFD = "cafe\u0301.txt";
function hostileFiles(): Record<string, string> {
  const files: Record<string, string> = {
    "line1\nline2.txt": "newline in the name",
    "tab\there.txt": "tab",
    [NFC]: "NFC spelling",
    [NFD]: "NFD spelling",
    "code/main.ts": "lower-case folder",
    "CODE/main.ts": "upper-case folder",
    "Readme.md": "mixed case",
    "README.md": "upper case",
    [`${"n".repeat(250)}.txt`]: "255-byte name",
    "spaces and 'quotes' \"double\" $dollar `tick`.txt": "shell characters",
    "-leading-dash.txt": "dash",
  };
  // A deep tree: 18 levels of 200-byte names (~3.6 KB of relative path, close to PATH_MAX).
  files[`${Array.from({ length: 18 }, (_, i) => `${i}`.padStart(3, "0") + "d".repeat(197)).join("/")}/deep.txt`] = "deep";
  return files;
}

test("hostile file names survive backup and restore exactly (newline, NFC+NFD kept distinct, case twins, deep tree)", async (t) => {
  const { dir, cleanup } = await tempDir("ws-names-");
  t.after(cleanup);
  const ws = path.join(dir, "workspace");
  await writeTree(ws, hostileFiles());
  const names = await fsp.readdir(ws);
  assert.ok(names.includes(NFC) && names.includes(NFD), "this file system keeps NFC and NFD names apart");
  const syncConfig = { backup: { enabled: true, provider: "local", local: { root: path.join(dir, "cloud") }, encrypt: true, passphrase: NASTY_PASS, include: ["workspace"] } };
  const b = await runBackup({ syncConfig, workspaceDir: ws, stateDir: path.join(dir, "state") });
  assert.ok(b.ok, JSON.stringify(b));
  assert.deepEqual(b.warnings, []);
  const r = await runRestore({ syncConfig, workspaceDir: ws, stateDir: path.join(dir, "state"), snapshotName: "latest", restoreTo: path.join(dir, "restored") });
  assert.ok(r.ok, JSON.stringify(r));
  const want = await treeFingerprint(ws);
  assert.deepEqual(treeDiff(want, await treeFingerprint(path.join(dir, "restored", "workspace"))), []);
  assert.ok(want.size >= Object.keys(hostileFiles()).length);
});

test("a path longer than PATH_MAX (4096 bytes) is reported in the backup's warnings, never silently dropped", async (t) => {
  const { dir } = await tempDir("ws-names-");
  // fs.rm cannot remove paths over PATH_MAX; GNU rm walks with openat and can.
  t.after(async () => void execFileSync("rm", ["-rf", dir]));
  const ws = path.join(dir, "workspace");
  await writeTree(ws, { "ok.txt": "fine" });
  // Absolute paths over 4096 bytes cannot be opened; build the tree with relative paths instead.
  const seg = "x".repeat(250);
  const cwd = process.cwd();
  try {
    process.chdir(ws);
    for (let i = 0; i < 18; i++) {
      await fsp.mkdir(seg);
      process.chdir(seg);
    }
    await fsp.writeFile("too-deep.txt", "unreachable by absolute path");
  } finally {
    process.chdir(cwd);
  }
  const logger = recorder();
  const syncConfig = { backup: { enabled: true, provider: "local", local: { root: path.join(dir, "cloud") }, encrypt: false, include: ["workspace"] } };
  const b = await runBackup({ syncConfig, workspaceDir: ws, stateDir: path.join(dir, "state"), logger });
  assert.ok(b.ok, JSON.stringify(b));
  assert.ok(b.warnings.some((w) => /ENAMETOOLONG|too long/.test(w)), `the skipped path is reported: ${b.warnings.map((w) => w.slice(0, 120)).join(" | ")}`);
  const r = await runRestore({ syncConfig, workspaceDir: ws, stateDir: path.join(dir, "state"), snapshotName: "latest", restoreTo: path.join(dir, "restored") });
  assert.ok(r.ok);
  assert.equal(await fsp.readFile(path.join(dir, "restored", "workspace", "ok.txt"), "utf8"), "fine");
});

test("sync to case-insensitive Dropbox: case-only twins are reported as conflicts and both stay in the workspace", async (t) => {
  const fake = await startDropboxFake();
  t.after(() => fake.close());
  const { dir, cleanup } = await tempDir("ws-names-");
  t.after(cleanup);
  const ws = path.join(dir, "ws");
  const files = hostileFiles();
  await writeTree(ws, files);
  const before = await treeFingerprint(ws);
  const stateDir = path.join(dir, "state");
  const logger = recorder();
  const provider = createDropboxProvider({ token: fake.issueAccessToken(), fetch: fake.fetch }, { logger, stateDir });
  const settings: SyncSettings = syncSettings({ provider: "dropbox", exclude: [] });
  const r = await runSyncWithProvider({ settings, provider, workspaceDir: ws, stateDir });
  assert.ok(r.ok, r.ok ? "" : `${r.code}: ${r.error}`);
  const clashes = r.conflicts.filter((p) => /readme\.md|code\/main\.ts/i.test(p));
  assert.equal(clashes.length, 2, `one of each case pair is reported: ${r.conflicts.join(", ")}`);
  // Every local file is still there, byte for byte.
  assert.deepEqual(treeDiff(before, await treeFingerprint(ws)), []);
  // Dropbox holds one of each case pair, with that file's own content.
  for (const [a, b] of [["Readme.md", "README.md"], ["code/main.ts", "CODE/main.ts"]] as const) {
    const stored = fake.read(`/share/${a}`)?.toString();
    assert.ok(stored === files[a] || stored === files[b], `${a}: ${stored}`);
  }
  const again = await runSyncWithProvider({ settings, provider, workspaceDir: ws, stateDir });
  assert.ok(again.ok);
  assert.deepEqual([again.uploaded, again.downloaded, again.deleted], [[], [], []], "stable: the skipped twin is not re-uploaded or deleted");
  assert.deepEqual(treeDiff(before, await treeFingerprint(ws)), []);
});
