/**
 * The `workspace-sync` CLI end to end, as a child process, against the local provider and the real
 * S3 server: exit codes, `--json` output, the plugin's wording, and secrets masked in every line.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { s3TestSettings } from "./support/s3.js";
import { sampleAgent, tempDir, treeFingerprint } from "./support/tree.js";

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "src", "cli", "main.js");
const PASS = "s3cr3t-Pässphrase-$(rm -rf)-`x`";
const ALL_OUTPUT: string[] = [];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}, onStdout?: (text: string, kill: (sig: NodeJS.Signals) => void) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      onStdout?.(stdout, (sig) => child.kill(sig));
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      ALL_OUTPUT.push(stdout, stderr);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

async function fixture(t: { after: (fn: () => Promise<void>) => void }, extra: Record<string, unknown> = {}) {
  const { dir, cleanup } = await tempDir("ws-cli-");
  t.after(cleanup);
  const { workspaceDir, stateDir } = await sampleAgent(dir);
  const cloud = path.join(dir, "cloud");
  const configFile = path.join(dir, "ws.json");
  const config = {
    sync: { provider: "local", mode: "mailbox", local: { root: cloud } },
    backup: { enabled: true, encrypt: true, passphrase: "${WS_TEST_PASS}", prefix: "backups", retain: { daily: 7 }, ...extra },
  };
  await fsp.writeFile(configFile, JSON.stringify(config, null, 2));
  const base = ["--config", configFile, "--workspace", workspaceDir, "--state-dir", stateDir];
  return { dir, cloud, workspaceDir, stateDir, configFile, base, env: { WS_TEST_PASS: PASS } };
}

test("help and usage errors", async () => {
  const help = await cli(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /backup now/);
  assert.match(help.stdout, /config check/);
  const sub = await cli(["backup", "restore", "--help"]);
  assert.equal(sub.code, 0);
  assert.match(sub.stdout, /--snapshot NAME\|latest/);
  const unknown = await cli(["frobnicate"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /Unknown command: frobnicate/);
  const none = await cli([]);
  assert.equal(none.code, 2);
});

test("a mistyped option never runs the command (a typo of --dry-run must not prune)", async (t) => {
  const f = await fixture(t, { retain: 1 });
  assert.equal((await cli([...f.base, "backup", "now"], f.env)).code, 0);
  const before = await fsp.readdir(path.join(f.cloud, "backups"));
  for (const args of [["backup", "prune", "--dryrun"], ["backup", "prune", "-n"], ["backup", "now", "--dry-run"], ["sync", "--dryrun"], ["backup", "list", "extra"], ["backup", "restore", "--to", "--json"], ["backup", "restore", "--symlinks", "everywhere"]]) {
    const r = await cli([...f.base, ...args], f.env);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
  }
  assert.deepEqual(await fsp.readdir(path.join(f.cloud, "backups")), before);
});

test("backup now → list → restore → verify → prune, with --json and the plugin's wording", async (t) => {
  const f = await fixture(t);
  const now = await cli([...f.base, "backup", "now", "-v"], f.env);
  assert.equal(now.code, 0, now.stderr);
  assert.match(now.stdout, /^Creating backup snapshot\.\.\.\nBackup complete: backup-\d{8}T\d{6}Z\.tar\.gz\.enc\nSize: \d+\.\d MB\nEncrypted: yes\n/);

  const list = await cli([...f.base, "backup", "list", "--json"], f.env);
  assert.equal(list.code, 0, list.stderr);
  const listed = JSON.parse(list.stdout) as { ok: boolean; snapshots: { name: string; encrypted: boolean; keptBy: string[] }[] };
  assert.equal(listed.snapshots.length, 1);
  assert.equal(listed.snapshots[0]?.encrypted, true);
  assert.ok(listed.snapshots[0]?.keptBy.length, "the retention rule keeping the snapshot is shown");
  const human = await cli([...f.base, "backup", "list"], f.env);
  assert.match(human.stdout, /^1 snapshot\(s\):\n\n {2}backup-.*\(encrypted\)/);

  const dry = await cli([...f.base, "backup", "restore", "--dry-run"], f.env);
  assert.equal(dry.code, 0);
  assert.match(dry.stdout, /Would restore snapshot: backup-.*\nDestination: .*\n\(dry-run — no files changed\)/);

  const to = path.join(f.dir, "restored");
  const restore = await cli([...f.base, "backup", "restore", "--snapshot", "latest", "--to", to, "--json"], f.env);
  assert.equal(restore.code, 0, restore.stderr);
  const restored = JSON.parse(restore.stdout) as { ok: boolean; restoredTo: string; verified: boolean };
  assert.equal(restored.ok, true);
  assert.equal(restored.restoredTo, to);
  assert.equal(restored.verified, true);
  const src = await treeFingerprint(f.workspaceDir);
  const out = await treeFingerprint(path.join(to, "workspace"));
  assert.equal(out.get("notes/today.md"), src.get("notes/today.md"));

  const again = await cli([...f.base, "backup", "restore", "--to", to], f.env);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^Restore failed: Restore target .* is not empty/m);

  const verify = await cli([...f.base, "backup", "verify", "--all"], f.env);
  assert.equal(verify.code, 0, verify.stderr);
  assert.match(verify.stdout, /^OK {7}backup-/m);

  const prune = await cli([...f.base, "backup", "prune", "--dry-run"], f.env);
  assert.equal(prune.code, 0, prune.stderr);
  assert.match(prune.stdout, /Would keep 1 snapshot\(s\):\n {2}keep {3}backup-.*\[.*daily.*\]/);

  const status = await cli([...f.base, "backup", "status", "--json"], f.env);
  assert.equal(status.code, 0);
  const st = JSON.parse(status.stdout) as { lastRunOk: boolean; lastResult: string };
  assert.equal(st.lastRunOk, true);
  assert.match(st.lastResult, /^backup-/);
});

test("wrong passphrase, malformed config and missing config fail with exit 1 and a clear message", async (t) => {
  const f = await fixture(t);
  assert.equal((await cli([...f.base, "backup", "now"], f.env)).code, 0);
  const wrong = await cli([...f.base, "backup", "restore", "--to", path.join(f.dir, "x")], { WS_TEST_PASS: "wrong passphrase" });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /Restore failed: wrong passphrase/);

  // Trailing commas are fine (config files are JSON5); a missing comma is not.
  await fsp.writeFile(f.configFile, '{\n  "backup": { "enabled": true "x": 1 }\n}\n');
  const bad = await cli([...f.base, "backup", "now", "--json"], f.env);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /ws\.json:2:\d+/);
  assert.equal((JSON.parse(bad.stdout) as { code: string }).code, "CONFIG_INVALID");

  const missingEnv = await cli([...f.base.slice(0, 2), "config", "check"], {});
  assert.equal(missingEnv.code, 1);

  const noConfig = await cli(["backup", "list"], { WORKSPACE_SYNC_CONFIG: "" });
  assert.equal(noConfig.code, 1);
  assert.match(noConfig.stderr, /--config FILE or set WORKSPACE_SYNC_CONFIG/);
});

test("config check masks every secret; WORKSPACE_SYNC_CONFIG works", async (t) => {
  const f = await fixture(t, { s3: { accessKeyId: "AKIAEXAMPLEKEY123", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" } });
  const r = await cli(["config", "check", "--json"], { ...f.env, WORKSPACE_SYNC_CONFIG: f.configFile });
  assert.equal(r.code, 0, r.stderr);
  const parsed = JSON.parse(r.stdout) as { ok: boolean; config: { backup: { passphrase: string; s3: { secretAccessKey: string } } } };
  assert.equal(parsed.config.backup.passphrase, "***");
  assert.equal(parsed.config.backup.s3.secretAccessKey, "***");
  for (const secret of [PASS, "AKIAEXAMPLEKEY123", "wJalrXUtnFEMI/K7MDENG/bPxRfiCY"]) assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret));
});

test("sync (configured mode), sync status, list and status", async (t) => {
  const f = await fixture(t);
  const dry = await cli([...f.base, "sync", "--dry-run", "--json"], f.env);
  assert.equal(dry.code, 0, dry.stderr);
  const planned = JSON.parse(dry.stdout) as { ok: boolean; mode: string; uploaded: string[] };
  assert.equal(planned.mode, "mailbox");
  assert.ok(planned.uploaded.includes("notes/today.md"));
  await assert.rejects(fsp.stat(path.join(f.cloud, "openclaw-share", "notes", "today.md")), /ENOENT/, "dry run changes nothing");

  const sync = await cli([...f.base, "sync"], f.env);
  assert.equal(sync.code, 0, sync.stderr);
  assert.match(sync.stdout, /Sync completed/);
  assert.equal(await fsp.readFile(path.join(f.cloud, "openclaw-share", "notes", "today.md"), "utf8"), "note ".repeat(500));

  const list = await cli([...f.base, "list"], f.env);
  assert.equal(list.code, 0);
  assert.match(list.stdout, /^ {2}notes\/today\.md$/m);
  assert.match(list.stdout, /\n\d+ files\n$/);

  const syncStatus = await cli([...f.base, "sync", "status", "--json"], f.env);
  assert.equal((JSON.parse(syncStatus.stdout) as { lastRunOk: boolean }).lastRunOk, true);

  const status = await cli([...f.base, "status", "--json"], f.env);
  assert.equal(status.code, 0, status.stderr);
  const s = JSON.parse(status.stdout) as { ok: boolean; sync: { connection: string }; backup: { connection: string } };
  assert.equal(s.sync.connection, "OK");
  assert.equal(s.backup.connection, "OK");
});

test("run: the daemon starts both schedules and stops cleanly on SIGTERM", async (t) => {
  const f = await fixture(t);
  let sent = false;
  const r = await cli([...f.base, "run"], f.env, (out, kill) => {
    if (!sent && out.includes("running")) {
      sent = true;
      kill("SIGTERM");
    }
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Stopping\.\.\.\nStopped\.\n$/);
});

test("backup and restore through the CLI against the S3 server", async (t) => {
  const s3 = await s3TestSettings(t);
  if (!s3) return;
  const f = await fixture(t, { provider: "s3", bucket: s3.bucket, s3: { endpoint: s3.endpoint, region: "us-east-1", accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
  const now = await cli([...f.base, "backup", "now", "--json", "-v"], f.env);
  assert.equal(now.code, 0, now.stderr);
  const made = JSON.parse(now.stdout) as { ok: boolean; snapshotName: string };
  const list = await cli([...f.base, "backup", "list", "--json"], f.env);
  assert.deepEqual((JSON.parse(list.stdout) as { snapshots: { name: string }[] }).snapshots.map((s) => s.name), [made.snapshotName]);
  const to = path.join(f.dir, "from-s3");
  const restore = await cli([...f.base, "backup", "restore", "--to", to], f.env);
  assert.equal(restore.code, 0, restore.stderr);
  assert.equal(await fsp.readFile(path.join(to, "workspace", "memory", "MEMORY.md"), "utf8"), "# memory\n- likes tea\n");
  assert.ok(s3.secretAccessKey && !now.stderr.includes(s3.secretAccessKey), "S3 secret never logged");
});

/** A password written into s3.endpoint (with a percent-escape: both spellings must stay hidden). */
const URL_PW_RAW = "Endp0int-Pw%2Fq";
const URL_PW = "Endp0int-Pw/q";

test("credentials in s3.endpoint: used to sign, never printed (plain, --json, -v), never in state files", async (t) => {
  const s3 = await s3TestSettings(t);
  if (!s3) return;
  // Working: the key pair only in the URL.
  const good = s3.endpoint!.replace("://", `://${s3.accessKeyId}:${encodeURIComponent(s3.secretAccessKey!)}@`);
  const f = await fixture(t, { provider: "s3", bucket: s3.bucket, s3: { endpoint: good, region: "us-east-1" } });
  const now = await cli([...f.base, "backup", "now", "--json", "-v"], f.env);
  assert.equal(now.code, 0, now.stderr);
  assert.ok(!(now.stdout + now.stderr).includes(s3.secretAccessKey!), "the URL's secret is not printed");
  // Failing: a wrong password in the URL and a missing bucket, in every output mode.
  const bad = s3.endpoint!.replace("://", `://${s3.accessKeyId}:${URL_PW_RAW}@`);
  const g = await fixture(t, { provider: "s3", bucket: `${s3.bucket}-missing`, s3: { endpoint: bad, region: "us-east-1", maxRetrySeconds: 1 } });
  for (const flags of [[], ["--json"], ["-v"], ["--json", "-v"]]) {
    for (const cmd of [["backup", "now"], ["backup", "list"]]) {
      const r = await cli([...g.base, ...cmd, ...flags], g.env);
      assert.notEqual(r.code, 0, `${cmd.join(" ")} ${flags.join(" ")}: ${r.stdout}${r.stderr}`);
      for (const secret of [URL_PW_RAW, URL_PW]) assert.ok(!(r.stdout + r.stderr).includes(secret), `${cmd.join(" ")} ${flags.join(" ")} printed the endpoint password`);
    }
  }
  const state = await fsp.readFile(path.join(g.stateDir, "workspace-sync", "last-backup.json"), "utf8");
  assert.match(state, /"lastRunOk": false/);
  for (const secret of [URL_PW_RAW, URL_PW]) assert.ok(!state.includes(secret), "the endpoint password is in last-backup.json");
});

test("no invocation printed the passphrase", () => {
  const all = ALL_OUTPUT.join("\n");
  assert.ok(all.length > 0);
  assert.ok(!all.includes(PASS), "passphrase leaked into CLI output");
  for (const secret of [URL_PW_RAW, URL_PW]) assert.ok(!all.includes(secret), "an endpoint password leaked into CLI output");
});
