/**
 * Config errors never echo a value that may be a secret: not only values under secret keys, but
 * anything found where a section (an object or a list) belongs, and anything where the schema
 * below that path holds a secret key (a Dropbox token written as `"dropbox": "sl.…"`). Checked on
 * the resolver, the `workspace-sync` bin (text and --json, stdout and stderr) and the host's log.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, resolveConfig } from "../src/config/index.js";
import pluginEntry from "../src/openclaw/index.js";
import { createFakeHost, type FakeManifest } from "./support/fake-openclaw.js";
import { runNode } from "./support/run-node.js";
import { tempDir } from "./support/tree.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.resolve(HERE, "..", "src", "cli", "main.js");
const MANIFEST = path.resolve(HERE, "..", "..", "openclaw.plugin.json");
const TOKEN = "sl.TOKENSECRET_ABCDEFGH";

function configError(raw: unknown): ConfigError {
  try {
    resolveConfig(raw, { env: {} });
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

test("a provider block, sync or backup written as a string is described by type only", () => {
  const cases: [unknown, string][] = [
    [{ sync: { provider: "dropbox", mode: "mailbox", dropbox: TOKEN } }, "sync.dropbox: expected an object, got a string"],
    [{ provider: "dropbox", mode: "mailbox", dropbox: TOKEN }, "dropbox: expected an object, got a string"],
    [{ sync: { provider: "s3", s3: TOKEN } }, "sync.s3: expected an object, got a string"],
    [{ backup: { enabled: true, s3: [TOKEN] } }, "backup.s3: expected an object, got a list"],
    [{ sync: TOKEN }, "sync: expected an object, got a string"],
    [{ backup: TOKEN }, "backup: expected an object, got a string"],
    [{ backup: 12345678 }, "backup: expected an object, got a number"],
    [{ sync: { exclude: TOKEN } }, "sync.exclude: expected a list of glob strings, got a string"],
  ];
  for (const [raw, start] of cases) {
    const err = configError(raw);
    assert.ok(err.message.includes(start), `${err.message} should include ${start}`);
    assert.ok(!err.message.includes(TOKEN) && !err.message.includes("12345678"), err.message);
  }
  // Leaf values without secrets below them are still shown, to help fix them.
  assert.match(configError({ sync: { mode: "upload" } }).message, /got "upload"/);
  assert.match(configError({ sync: { dropbox: { idleTimeoutSeconds: "soon" } } }).message, /got "soon"/);
});

async function configFile(t: { after(fn: () => Promise<void>): void }, content: unknown) {
  const { dir, cleanup } = await tempDir("ws-secret-echo-");
  t.after(cleanup);
  const file = path.join(dir, "c1.json");
  await fsp.writeFile(file, JSON.stringify(content));
  return { dir, file };
}

test("workspace-sync config check (text and --json) never prints a token written as the dropbox block", async (t) => {
  const { file } = await configFile(t, { sync: { provider: "dropbox", mode: "mailbox", dropbox: TOKEN } });
  for (const extra of [[], ["--json"]]) {
    const r = await runNode(BIN, ["config", "check", "--config", file, ...extra]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /sync\.dropbox: expected an object, got a string/);
    assert.ok(!(r.stdout + r.stderr).includes(TOKEN), r.stdout + r.stderr);
  }
});

test("the host logs the config error without the token", async () => {
  const manifest = JSON.parse(await fsp.readFile(MANIFEST, "utf8")) as FakeManifest;
  const host = createFakeHost({ manifest, pluginConfig: { sync: { provider: "dropbox", mode: "mailbox", dropbox: TOKEN } } });
  host.load(pluginEntry);
  const text = host.logs.map((l) => l.message).join("\n");
  assert.match(text, /sync\.dropbox: expected an object, got a string/);
  assert.ok(!text.includes(TOKEN), text);
});
