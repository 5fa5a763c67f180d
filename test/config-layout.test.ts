import { test } from "node:test";
import assert from "node:assert/strict";
import { resolveConfig, DEFAULT_BACKUP_EXCLUDE } from "../src/config/index.js";

const env = {};

test("empty config: sync off with every plugin default, no backup", () => {
  const c = resolveConfig({}, { env });
  assert.deepEqual(c.sync, {
    provider: "off",
    ingest: false,
    ingestPath: "inbox",
    notifyOnInbox: false,
    remotePath: "openclaw-share",
    localPath: "",
    interval: 0,
    timeout: 1800,
    onSessionStart: false,
    onSessionEnd: false,
    conflictResolve: "newer",
    exclude: ["**/.DS_Store"],
    copySymlinks: false,
    maxDelete: 50,
    concurrency: 4,
  });
  assert.equal(c.sync.mode, undefined);
  assert.equal(c.backup, undefined);
  assert.deepEqual(c.warnings, []);
});

test("undefined and null configs load as empty", () => {
  assert.equal(resolveConfig(undefined, { env }).sync.provider, "off");
  assert.equal(resolveConfig(null, { env }).sync.provider, "off");
});

test("backup defaults match the plugin's documented defaults", () => {
  const c = resolveConfig({ backup: {} }, { env });
  assert.deepEqual(c.backup, {
    enabled: false,
    provider: "s3",
    remotePath: "",
    prefix: "",
    interval: 86400,
    encrypt: false,
    include: ["workspace", "config", "cron", "memory"],
    exclude: [".git", "node_modules", "__pycache__", ".venv", "venv"],
    retain: 7,
    compressionLevel: 6,
    kdfIterations: 100000,
    requireAuthenticated: false,
  });
});

const syncBody = {
  provider: "s3",
  mode: "mailbox",
  remotePath: "agents/a1",
  interval: 300,
  exclude: ["**/node_modules/**"],
  s3: { bucket: "bkt", region: "auto", endpoint: "https://acc.r2.cloudflarestorage.com" },
};
const backupBody = { enabled: true, encrypt: true, passphrase: "pw", prefix: "a1" };

test("nested and flat forms resolve to the same config", () => {
  const nested = resolveConfig({ sync: syncBody, backup: backupBody }, { env });
  const flat = resolveConfig({ ...syncBody, backup: backupBody }, { env });
  assert.deepEqual(nested, flat);
  assert.equal(nested.sync.provider, "s3");
  assert.equal(nested.sync.mode, "mailbox");
  assert.equal(nested.sync.remotePath, "agents/a1");
  assert.equal(nested.sync.interval, 300);
  assert.deepEqual(nested.sync.s3, syncBody.s3);
  assert.deepEqual(nested.warnings, []);
  // backup inherits the sync provider, its s3 block and its raw exclude
  assert.equal(nested.backup?.provider, "s3");
  assert.deepEqual(nested.backup?.s3, syncBody.s3);
  assert.deepEqual(nested.backup?.exclude, ["**/node_modules/**"]);
  assert.equal(nested.backup?.passphrase, "pw");
});

test("flat form with only non-marker sync keys at the root still works", () => {
  const c = resolveConfig({ exclude: ["a"], copySymlinks: true }, { env });
  assert.deepEqual(c.sync.exclude, ["a"]);
  assert.equal(c.sync.copySymlinks, true);
});

test("both forms: the root keys win as in the plugin, with a warning naming the keys", () => {
  const c = resolveConfig({ provider: "dropbox", mode: "bisync", sync: { provider: "s3", mode: "mirror" } }, { env });
  assert.equal(c.sync.provider, "dropbox");
  assert.equal(c.sync.mode, "bisync");
  assert.equal(c.warnings.length, 1);
  assert.match(c.warnings[0]!, /^sync: ignored because sync keys also sit at the root \(provider, mode\)/);
});

test("nested form: sync keys left at the root are ignored with a warning", () => {
  const c = resolveConfig({ sync: { provider: "s3", s3: { bucket: "b" } }, exclude: ["x"], color: "red" }, { env });
  assert.deepEqual(c.sync.exclude, ["**/.DS_Store"]);
  assert.deepEqual(c.warnings, [
    'exclude: ignored at the root because the config has a "sync" block — move it into "sync"',
    "color: unknown key, ignored — check the spelling against the config reference",
  ]);
});

test("$schema at the root is allowed silently", () => {
  assert.deepEqual(resolveConfig({ $schema: "./schema.json", sync: { provider: "off" } }, { env }).warnings, []);
});

test("backup-only config loads with sync off and a usable backup section", () => {
  const c = resolveConfig({ backup: { enabled: true, s3: { bucket: "bkt" }, encrypt: true, passphrase: "pw" } }, { env });
  assert.equal(c.sync.provider, "off");
  assert.equal(c.backup?.enabled, true);
  assert.equal(c.backup?.provider, "s3");
  assert.deepEqual(c.backup?.s3, { bucket: "bkt" });
  assert.deepEqual(c.backup?.exclude, DEFAULT_BACKUP_EXCLUDE);
});

test("backup provider: local when sync is off and a local block exists (backup's or sync's)", () => {
  const own = resolveConfig({ backup: { local: { root: "/srv/b" } } }, { env });
  assert.equal(own.backup?.provider, "local");
  assert.deepEqual(own.backup?.local, { root: "/srv/b" });
  const inherited = resolveConfig({ sync: { provider: "off", local: { root: "/srv/s" } }, backup: {} }, { env });
  assert.equal(inherited.backup?.provider, "local");
  assert.deepEqual(inherited.backup?.local, { root: "/srv/s" });
});

test("backup provider: explicit wins; otherwise the sync provider", () => {
  const c = resolveConfig({ sync: { provider: "dropbox", dropbox: { token: "t" } }, backup: { provider: "s3", s3: { bucket: "b" } } }, { env });
  assert.equal(c.backup?.provider, "s3");
  assert.deepEqual(c.backup?.dropbox, { token: "t" }, "provider blocks fall back from backup to sync");
  const d = resolveConfig({ sync: { provider: "dropbox", dropbox: { token: "t" } }, backup: {} }, { env });
  assert.equal(d.backup?.provider, "dropbox");
});

test("backup provider blocks: backup's own block replaces the sync block (no merge)", () => {
  const c = resolveConfig({ sync: { provider: "s3", s3: { bucket: "sync", region: "eu" } }, backup: { s3: { bucket: "bk" } } }, { env });
  assert.deepEqual(c.backup?.s3, { bucket: "bk" });
});

test("sync off and only a dropbox block: backups use s3 as in the plugin, with a warning", () => {
  const c = resolveConfig({ backup: { dropbox: { token: "t" } } }, { env });
  assert.equal(c.backup?.provider, "s3");
  assert.ok(c.warnings.some((w) => w.startsWith("backup.provider:") && w.includes('"dropbox"')));
});

test("backup exclude: backup's own, else the sync exclude as written, else the backup defaults", () => {
  const own = resolveConfig({ sync: { exclude: ["a"] }, backup: { exclude: ["b"] } }, { env });
  assert.deepEqual(own.backup?.exclude, ["b"]);
  const fromSync = resolveConfig({ sync: { exclude: ["a"] }, backup: {} }, { env });
  assert.deepEqual(fromSync.backup?.exclude, ["a"]);
  // the sync default **/.DS_Store is not applied to backups
  const dflt = resolveConfig({ sync: { provider: "off" }, backup: {} }, { env });
  assert.deepEqual(dflt.sync.exclude, ["**/.DS_Store"]);
  assert.deepEqual(dflt.backup?.exclude, [".git", "node_modules", "__pycache__", ".venv", "venv"]);
  const empty = resolveConfig({ exclude: [], backup: {} }, { env });
  assert.deepEqual(empty.backup?.exclude, [], "an explicit empty sync exclude is used as written");
});

test("our additions: maxDelete, concurrency, compressionLevel, kdfIterations, retain policy, s3 extras", () => {
  const c = resolveConfig(
    {
      sync: {
        provider: "s3",
        maxDelete: 10,
        concurrency: 8,
        s3: { bucket: "b", sessionToken: "st", forcePathStyle: false, partSizeMiB: 16, queueSize: 2, maxRetrySeconds: 60 },
      },
      backup: { compressionLevel: 9, kdfIterations: 200000, retain: { daily: 7, weekly: 4, within: "30d" } },
    },
    { env },
  );
  assert.equal(c.sync.maxDelete, 10);
  assert.equal(c.sync.concurrency, 8);
  assert.deepEqual(c.sync.s3, { bucket: "b", sessionToken: "st", forcePathStyle: false, partSizeMiB: 16, queueSize: 2, maxRetrySeconds: 60 });
  assert.equal(c.backup?.compressionLevel, 9);
  assert.equal(c.backup?.kdfIterations, 200000);
  assert.deepEqual(c.backup?.retain, { daily: 7, weekly: 4, within: "30d" });
});

test("timeout below 60 is raised to 60 with a warning", () => {
  const c = resolveConfig({ sync: { timeout: 10 } }, { env });
  assert.equal(c.sync.timeout, 60);
  assert.deepEqual(c.warnings, ["sync.timeout: 10 is below the minimum of 60 seconds; using 60"]);
  assert.equal(resolveConfig({ timeout: 60 }, { env }).sync.timeout, 60);
  assert.equal(resolveConfig({ timeout: 90 }, { env }).warnings.length, 0);
});

test("intervals are kept raw (managers clamp them)", () => {
  const c = resolveConfig({ interval: 5, backup: { interval: 10 } }, { env });
  assert.equal(c.sync.interval, 5);
  assert.equal(c.backup?.interval, 10);
});

test("relative localPath and ingestPath are kept as written", () => {
  const c = resolveConfig({ localPath: "shared/sub", ingestPath: "./inbox" }, { env });
  assert.equal(c.sync.localPath, "shared/sub");
  assert.equal(c.sync.ingestPath, "./inbox");
});

test("empty passphrase counts as unset; encrypt without passphrase warns", () => {
  const c = resolveConfig({ backup: { encrypt: true, passphrase: "" } }, { env });
  assert.equal(c.backup?.passphrase, undefined);
  assert.ok(c.warnings.some((w) => w.startsWith("backup.passphrase:")));
});

test("dropbox.fetch from code is passed through by reference", () => {
  const fetchImpl: typeof globalThis.fetch = async () => new Response("x");
  const c = resolveConfig({ sync: { provider: "dropbox", dropbox: { token: "t", fetch: fetchImpl } }, backup: {} }, { env });
  assert.equal(c.sync.dropbox?.fetch, fetchImpl);
  assert.equal(c.backup?.dropbox?.fetch, fetchImpl);
});

test("local.root: ~ expanded; relative kept without baseDir, resolved with it", async () => {
  const os = await import("node:os");
  const path = await import("node:path");
  assert.equal(resolveConfig({ sync: { provider: "local", local: { root: "~/bk" } } }, { env }).sync.local?.root, path.join(os.homedir(), "bk"));
  assert.equal(resolveConfig({ sync: { provider: "local", local: { root: "bk" } } }, { env }).sync.local?.root, "bk");
  assert.equal(resolveConfig({ sync: { provider: "local", local: { root: "bk" } } }, { env, baseDir: "/etc/ws" }).sync.local?.root, "/etc/ws/bk");
});

test("the input object is not modified", () => {
  const raw = { sync: { provider: "s3", s3: { bucket: "${B}" } }, backup: { passphrase: "${P}" } };
  const copy = structuredClone(raw);
  resolveConfig(raw, { env: { B: "bkt", P: "pw" } });
  assert.deepEqual(raw, copy);
});

test("null values mean unset, as the plugin's ?? reads them", () => {
  const c = resolveConfig({ sync: { interval: null, exclude: null, mode: "mirror" }, backup: { retain: null, passphrase: null } }, { env });
  assert.equal(c.sync.interval, 0);
  assert.deepEqual(c.sync.exclude, ["**/.DS_Store"]);
  assert.equal(c.backup?.retain, 7);
  assert.equal(c.backup?.passphrase, undefined);
});

test("__proto__, constructor and toString keys from JSON are unknown keys, not prototype members", () => {
  const c = resolveConfig(JSON.parse('{"sync": {"__proto__": {"provider": "s3"}, "constructor": 1, "mode": "mirror"}, "toString": 2}'), { env });
  assert.equal(c.sync.provider, "off");
  assert.deepEqual(c.warnings, [
    "toString: unknown key, ignored — check the spelling against the config reference",
    "sync.__proto__: unknown key, ignored — check the spelling against the config reference",
    "sync.constructor: unknown key, ignored — check the spelling against the config reference",
  ]);
});

test("backup.retain written as a string of a whole number is read as that count, with a warning (the plugin's schema left it untyped)", () => {
  const c = resolveConfig({ sync: { provider: "local", mode: "mirror", local: { root: "/r" } }, backup: { enabled: true, retain: "7" } });
  assert.equal(c.backup?.retain, 7);
  assert.equal(c.sync.provider, "local", "the sync still loads");
  assert.ok(c.warnings.some((w) => /^backup\.retain: the string "7" is read as the count 7/.test(w)), c.warnings.join("\n"));
  // Anything else in a string is still refused, naming the key.
  assert.throws(() => resolveConfig({ backup: { enabled: true, retain: "seven" } }), /backup\.retain/);
});
