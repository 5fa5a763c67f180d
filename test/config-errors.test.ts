import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, resolveConfig } from "../src/config/index.js";
import { WorkspaceSyncError } from "../src/errors.js";

const env = {};

/** Runs `fn`, expects a ConfigError with `code`, returns it. */
function configError(fn: () => unknown, code = "CONFIG_INVALID"): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError && err.code === code) return err;
    throw err;
  }
  throw new Error(`expected a ${code} ConfigError`);
}

test("wrong types: every problem is listed with its key path, what was found and the fix", () => {
  const err = configError(() =>
    resolveConfig(
      {
        sync: {
          provider: "s3",
          mode: "upload",
          interval: -5,
          timeout: "long",
          conflictResolve: "mine",
          exclude: "*.log",
          ingest: "yes",
          maxDelete: 150,
          concurrency: 2.5,
          s3: { bucket: 7, partSizeMiB: 1 },
        },
        backup: { interval: "daily", include: ["workspace", "photos"], compressionLevel: 11, retain: { daily: -2, dayly: 3 }, enabled: "true" },
      },
      { env },
    ),
  );
  assert.ok(err instanceof WorkspaceSyncError);
  const byPath = new Map(err.issues.map((i) => [i.path, i.message]));
  assert.deepEqual(
    [...byPath.keys()].sort(),
    [
      "backup.compressionLevel",
      "backup.enabled",
      "backup.include[1]",
      "backup.interval",
      "backup.retain",
      "backup.retain.daily",
      "sync.concurrency",
      "sync.conflictResolve",
      "sync.exclude",
      "sync.ingest",
      "sync.interval",
      "sync.maxDelete",
      "sync.mode",
      "sync.s3.bucket",
      "sync.s3.partSizeMiB",
      "sync.timeout",
    ].sort(),
  );
  assert.equal(byPath.get("backup.interval"), 'backup.interval: expected a number >= 0, got "daily" — set a number of seconds (86400 = daily)');
  assert.equal(byPath.get("sync.interval"), "sync.interval: expected a number >= 0, got -5 — set a number of seconds (300 = every 5 minutes, 0 = manual only)");
  assert.match(byPath.get("sync.mode")!, /^sync\.mode: expected one of "mailbox", "mirror", "bisync", got "upload"/);
  assert.match(byPath.get("sync.conflictResolve")!, /expected one of "newer", "local", "remote", got "mine"/);
  assert.match(byPath.get("backup.include[1]")!, /expected one of "workspace", .*"pages", got "photos"/);
  assert.match(byPath.get("backup.retain")!, /unknown key "dayly"/);
  assert.match(byPath.get("sync.ingest")!, /expected true or false, got "yes" — use true or false without quotes/);
  assert.match(byPath.get("sync.concurrency")!, /expected a whole number between 1 and 64, got 2\.5/);
  // the error message contains every issue
  for (const message of byPath.values()) assert.ok(err.message.includes(message), message);
  assert.match(err.message, /^Invalid config \(16 problems\):/);
  assert.equal(err.path, err.issues[0]!.path);
});

test("flat form issues carry root-level paths", () => {
  const err = configError(() => resolveConfig({ provider: "s3", interval: "x", backup: { retain: "forever" } }, { env }));
  assert.deepEqual(err.issues.map((i) => i.path), ["interval", "backup.retain"]);
});

test("the source is named in the message", () => {
  const err = configError(() => resolveConfig({ sync: { mode: 1 } }, { env, source: "/etc/ws.json" }));
  assert.match(err.message, /^Invalid config in \/etc\/ws\.json: sync\.mode: /);
});

test("non-object config, sync and backup blocks are refused", () => {
  assert.match(configError(() => resolveConfig([], { env })).message, /expected an object/);
  assert.match(configError(() => resolveConfig("x", { env })).message, /expected an object/);
  const err = configError(() => resolveConfig({ sync: "s3", backup: true }, { env }));
  assert.deepEqual(err.issues.map((i) => i.path), ["sync", "backup"]);
});

test("secrets are never echoed, even when they are the wrong value", () => {
  const secrets = ["hunter2-secret-pass", "AKIA-SECRET-ID", "s3cr3t-access-key", "sess-tok-123", "dbx-token-xyz", "app-key-1", "app-secret-2"];
  const err = configError(() =>
    resolveConfig(
      {
        sync: {
          provider: "s3",
          mode: "nope",
          s3: { accessKeyId: [secrets[1]], secretAccessKey: { v: secrets[2] }, sessionToken: [secrets[3]] },
          dropbox: { token: [secrets[4]], appKey: { k: secrets[5] }, appSecret: [secrets[6]] },
        },
        backup: { passphrase: { value: secrets[0] }, custom: { rcloneOptions: { pass: "x" } } },
      },
      { env },
    ),
  );
  const text = JSON.stringify({ message: err.message, issues: err.issues, warnings: err.warnings, path: err.path });
  for (const s of secrets) assert.ok(!text.includes(s), `secret ${s} leaked`);
  const byPath = new Map(err.issues.map((i) => [i.path, i.message]));
  assert.equal(byPath.get("backup.passphrase"), 'backup.passphrase: expected a string, got an object — use a string, e.g. "${BACKUP_PASSPHRASE}"');
  assert.equal(byPath.get("sync.s3.accessKeyId"), "sync.s3.accessKeyId: expected a string, got a list");
  assert.ok(byPath.has("sync.dropbox.token"));
});

test("unsupported providers: CONFIG_UNSUPPORTED naming the provider and the alternatives", () => {
  for (const provider of ["gdrive", "onedrive", "custom"]) {
    const err = configError(() => resolveConfig({ sync: { provider, mode: "mirror" } }, { env }), "CONFIG_UNSUPPORTED");
    assert.equal(err.path, "sync.provider");
    assert.ok(err.message.includes(`provider "${provider}" is not supported by workspace-sync (no rclone): use s3, dropbox or local`));
  }
  const flat = configError(() => resolveConfig({ provider: "gdrive" }, { env }), "CONFIG_UNSUPPORTED");
  assert.equal(flat.path, "provider");
  const backup = configError(() => resolveConfig({ backup: { provider: "onedrive" } }, { env }), "CONFIG_UNSUPPORTED");
  assert.equal(backup.path, "backup.provider");
  assert.match(backup.message, /^Unsupported config: backup\.provider: provider "onedrive"/);
});

test("backup.provider off is refused with a pointer to enabled", () => {
  const err = configError(() => resolveConfig({ backup: { provider: "off" } }, { env }));
  assert.match(err.message, /backup\.provider: expected one of "local", "s3", "dropbox", got "off" — to turn backups off set backup\.enabled to false/);
});

test("unknown keys warn and are ignored, at every level, never failing", () => {
  const c = resolveConfig(
    {
      sync: { provider: "s3", intervall: 5, s3: { bucket: "b", regoin: "x" } },
      backup: { enabeld: true, local: { root: "/x", mode: 1 } },
    },
    { env },
  );
  assert.deepEqual(c.warnings, [
    "sync.intervall: unknown key, ignored — check the spelling against the config reference",
    "sync.s3.regoin: unknown key, ignored — check the spelling against the config reference",
    "backup.enabeld: unknown key, ignored — check the spelling against the config reference",
    "backup.local.mode: unknown key, ignored — check the spelling against the config reference",
  ]);
  assert.equal(c.sync.interval, 0);
  assert.deepEqual(c.sync.s3, { bucket: "b" });
  assert.equal(c.backup?.enabled, false);
});

test("rclone-only keys are accepted and ignored with a warning", () => {
  const c = resolveConfig(
    {
      provider: "s3",
      remoteName: "cloud",
      configPath: "/x/rclone.conf",
      custom: { rcloneType: "sftp", rcloneOptions: { host: "h" } },
      gdrive: { token: "t" },
      backup: { remoteName: "backup", configPath: "/y", onedrive: { driveId: "d" } },
    },
    { env },
  );
  assert.deepEqual(c.warnings, [
    "remoteName: ignored, an rclone setting (workspace-sync does not use rclone)",
    "configPath: ignored, an rclone setting (workspace-sync does not use rclone)",
    "custom: ignored, the custom provider needs rclone and is not supported (workspace-sync does not use rclone)",
    "gdrive: ignored, the gdrive provider needs rclone and is not supported (workspace-sync does not use rclone)",
    "backup.remoteName: ignored, an rclone setting (workspace-sync does not use rclone)",
    "backup.configPath: ignored, an rclone setting (workspace-sync does not use rclone)",
    "backup.onedrive: ignored, the onedrive provider needs rclone and is not supported (workspace-sync does not use rclone)",
  ]);
  assert.ok(!("remoteName" in c.sync));
  assert.ok(!("custom" in c.sync));
});

test("absolute localPath is refused with the plugin's wording", () => {
  for (const p of ["/data/shared", "C:\\share", "\\\\server\\share"]) {
    const err = configError(() => resolveConfig({ sync: { localPath: p } }, { env }));
    assert.equal(err.path, "sync.localPath");
    assert.equal(
      err.issues[0]!.message,
      `sync.localPath: localPath must be relative to the workspace, got absolute path: ${JSON.stringify(p)}. Remove localPath or set it to a relative subfolder (e.g. "shared").`,
    );
  }
});

test("escaping localPath and ingestPath are refused", () => {
  for (const p of ["..", "../x", "a/../../b", "..\\up"]) {
    const err = configError(() => resolveConfig({ localPath: p, ingestPath: p }, { env }));
    assert.deepEqual(err.issues.map((i) => i.path), ["localPath", "ingestPath"]);
    assert.match(err.issues[0]!.message, /localPath must stay inside the workspace/);
  }
  const abs = configError(() => resolveConfig({ ingestPath: "/tmp/inbox" }, { env }));
  assert.match(abs.message, /ingestPath: ingestPath must be relative to the workspace, got absolute path: "\/tmp\/inbox"/);
  // ".." inside a name is fine, and so is a path that comes back inside
  assert.equal(resolveConfig({ localPath: "a/../b..c" }, { env }).sync.localPath, "a/../b..c");
});

test("local provider without a local block is refused", () => {
  const err = configError(() => resolveConfig({ sync: { provider: "local" } }, { env }));
  assert.match(err.message, /sync\.provider: "local" needs a local block/);
  const b = configError(() => resolveConfig({ backup: { provider: "local" } }, { env }));
  assert.match(b.message, /backup\.provider: "local" needs a local block/);
  const root = configError(() => resolveConfig({ backup: { local: {} } }, { env }));
  assert.match(root.message, /backup\.local\.root: is required \(a non-empty folder path\)/);
});

test("retain accepts counts and policies, refuses bad durations and negatives", () => {
  assert.equal(resolveConfig({ backup: { retain: 0 } }, { env }).backup?.retain, 0);
  assert.deepEqual(resolveConfig({ backup: { retain: { withinDaily: "1y6m" } } }, { env }).backup?.retain, { withinDaily: "1y6m" });
  const err = configError(() => resolveConfig({ backup: { retain: { within: "a week" } } }, { env }));
  assert.match(err.message, /backup\.retain\.within: expected a duration such as "30d", "12h" or "1y6m", got "a week"/);
  assert.match(configError(() => resolveConfig({ backup: { retain: -2 } }, { env })).message, /backup\.retain: expected a number of snapshots \(-1 = all\)/);
});

test("dropbox.fetch must be a function", () => {
  const err = configError(() => resolveConfig({ sync: { dropbox: { fetch: "http://proxy" } } }, { env }));
  assert.match(err.message, /sync\.dropbox\.fetch: expected a function, got "http:\/\/proxy" — remove it from the JSON file/);
});

test("warnings found before a failure travel on the error", () => {
  const err = configError(() => resolveConfig({ sync: { mode: 1, colour: "x" } }, { env }));
  assert.deepEqual(err.warnings, ["sync.colour: unknown key, ignored — check the spelling against the config reference"]);
});

test("a passphrase without encrypt: true loads (the plugin's default is unencrypted) but warns that snapshots are not encrypted", () => {
  const warned = resolveConfig({ backup: { enabled: true, provider: "local", local: { root: "/srv/b" }, passphrase: "s3cret pass" } });
  assert.equal(warned.backup?.encrypt, false);
  const w = warned.warnings.filter((m) => m.startsWith("backup.encrypt:"));
  assert.equal(w.length, 1, warned.warnings.join("\n"));
  assert.match(w[0]!, /NOT encrypted .*"encrypt": true/);
  assert.ok(!w[0]!.includes("s3cret"), "the passphrase is never echoed");
  const quiet = resolveConfig({ backup: { enabled: true, provider: "local", local: { root: "/srv/b" }, passphrase: "s3cret pass", encrypt: true } });
  assert.deepEqual(quiet.warnings.filter((m) => m.startsWith("backup.encrypt:")), []);
});

test("non-finite numbers are shown as written (NaN, Infinity, 1e400 read as Infinity), not as null", async () => {
  const cases: [unknown, string][] = [
    [NaN, "NaN"],
    [Infinity, "Infinity"],
    [-Infinity, "-Infinity"],
    [JSON.parse("1e400"), "Infinity"],
  ];
  for (const [value, shown] of cases) {
    const err = configError(() => resolveConfig({ sync: { interval: value }, backup: { compressionLevel: value } }, { env }));
    const byPath = new Map(err.issues.map((i) => [i.path, i.message]));
    assert.equal(byPath.get("sync.interval"), `sync.interval: expected a number >= 0, got ${shown} — set a number of seconds (300 = every 5 minutes, 0 = manual only)`);
    assert.match(byPath.get("backup.compressionLevel")!, new RegExp(`got ${shown.replace("-", "\\-")}$`));
  }
});
