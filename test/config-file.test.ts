import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { loadConfigFile, ConfigError } from "../src/config/index.js";
import { WorkspaceSyncError } from "../src/errors.js";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "ws-config-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function rejection(p: Promise<unknown>): Promise<WorkspaceSyncError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof WorkspaceSyncError, String(err));
    return err;
  }
  throw new Error("expected a rejection");
}

test("loads a nested JSON file, interpolating env and resolving local.root against the file's folder", async () => {
  await withDir(async (dir) => {
    const file = path.join(dir, "workspace-sync.json");
    await writeFile(
      file,
      "\ufeff" + JSON.stringify({ sync: { provider: "local", mode: "mirror", local: { root: "store" } }, backup: { enabled: true, passphrase: "${PW}", encrypt: true } }, null, 2),
    );
    const c = await loadConfigFile(file, { env: { PW: "pw" } });
    assert.equal(c.sync.provider, "local");
    assert.equal(c.sync.local?.root, path.join(dir, "store"));
    assert.equal(c.backup?.provider, "local");
    assert.equal(c.backup?.local?.root, path.join(dir, "store"));
    assert.equal(c.backup?.passphrase, "pw");
  });
});

test("malformed JSON: CONFIG_INVALID naming the file, line and column, without quoting the content", async () => {
  await withDir(async (dir) => {
    const file = path.join(dir, "bad.json");
    await writeFile(file, '{\n  "backup": {\n    "passphrase": "hunter2-do-not-print"\n    "enabled": true\n  }\n}\n');
    const err = await rejection(loadConfigFile(file, { env: {} }));
    assert.equal(err.code, "CONFIG_INVALID");
    assert.equal(err.path, file);
    assert.equal(
      err.message,
      `Invalid JSON in config file ${file}:4:5: unexpected character (a quote), expected "," or "}" — fix the syntax (JSON5 is read: comments, unquoted keys and trailing commas are fine)`,
    );
    assert.ok(!err.message.includes("hunter2"));
    assert.equal(err.cause, undefined);
  });
});

test("empty file is malformed JSON", async () => {
  await withDir(async (dir) => {
    const file = path.join(dir, "empty.json");
    await writeFile(file, "");
    const err = await rejection(loadConfigFile(file, { env: {} }));
    assert.equal(err.code, "CONFIG_INVALID");
    assert.match(err.message, /:1:1: unexpected end of file, expected a value — fix the syntax/);
  });
});

test("invalid settings in a file name the file", async () => {
  await withDir(async (dir) => {
    const file = path.join(dir, "c.json");
    await writeFile(file, JSON.stringify({ backup: { interval: "daily" } }));
    const err = await rejection(loadConfigFile(file, { env: {} }));
    assert.ok(err instanceof ConfigError);
    assert.equal(err.message, `Invalid config in ${file}: backup.interval: expected a number >= 0, got "daily" — set a number of seconds (86400 = daily)`);
  });
});

test("missing file: NOT_FOUND naming the path", async () => {
  await withDir(async (dir) => {
    const file = path.join(dir, "nope.json");
    const err = await rejection(loadConfigFile(file));
    assert.equal(err.code, "NOT_FOUND");
    assert.equal(err.path, file);
  });
});
