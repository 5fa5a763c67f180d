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
import { ConfigError, maskSecrets, resolveConfig } from "../src/config/index.js";
import { rawEndpointSecrets, redact } from "../src/cli/redact.js";
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

/** An endpoint of the wrong type: still a URL with a key pair in it, so never echoed. */
const EP_SECRET = "SECRETXYZ";
const BAD_ENDPOINTS: unknown[] = [["AKID:SECRETXYZ@host"], { u: "AKID:SECRETXYZ@host" }, { u: ["https://AKID:SECRETXYZ@host"] }];

test("an endpoint of the wrong type is described by type only (it may hold a key pair)", () => {
  for (const endpoint of BAD_ENDPOINTS) {
    const err = configError({ sync: { provider: "s3", mode: "mailbox", s3: { bucket: "b", endpoint } } });
    assert.match(err.message, /sync\.s3\.endpoint: expected a string, got (a list|an object)/);
    assert.ok(!err.message.includes(EP_SECRET) && !err.message.includes("AKID"), err.message);
    // The host's last guard for such messages: every endpoint string in the raw config is collected.
    const raw = { sync: { s3: { endpoint } } };
    assert.equal(redact(`x ${JSON.stringify(raw)} AKID:SECRETXYZ@host`, rawEndpointSecrets(raw)).includes(EP_SECRET), false);
    assert.ok(!JSON.stringify(maskSecrets(raw)).includes(EP_SECRET));
  }
});

test("workspace-sync config check (text and --json) and the host's log never print a wrong-type endpoint's key pair", async (t) => {
  const manifest = JSON.parse(await fsp.readFile(MANIFEST, "utf8")) as FakeManifest;
  for (const endpoint of BAD_ENDPOINTS) {
    const pluginConfig = { sync: { provider: "s3", mode: "mailbox", s3: { bucket: "b", endpoint } } };
    const { file, dir } = await configFile(t, pluginConfig);
    for (const extra of [[], ["--json"]]) {
      const r = await runNode(BIN, ["config", "check", "--config", file, ...extra]);
      assert.notEqual(r.code, 0);
      assert.match(r.stdout + r.stderr, /sync\.s3\.endpoint: expected a string/);
      assert.ok(!(r.stdout + r.stderr).includes(EP_SECRET), r.stdout + r.stderr);
    }
    const host = createFakeHost({ manifest, pluginConfig });
    host.load(pluginEntry);
    await host.startServices({ workspaceDir: dir, stateDir: dir });
    await host.stopServices();
    const text = host.logs.map((l) => l.message).join("\n");
    assert.match(text, /sync\.s3\.endpoint: expected a string/);
    assert.ok(!text.includes(EP_SECRET), text);
  }
});
