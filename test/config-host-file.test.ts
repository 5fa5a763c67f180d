/**
 * `--config openclaw.json`: a file whose root is a host config (`plugins.entries` is an object and
 * none of the plugin's own root keys is there) gives the plugin's entry config, never the host
 * config itself; without an entry config it reads as `{}` (not configured), as the host does; a
 * non-object entry config is a typed error naming `plugins.entries["openclaw-workspace-sync"].config`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, loadConfigFile, pluginEntryConfig } from "../src/config/index.js";
import { runNode } from "./support/run-node.js";
import { tempDir } from "./support/tree.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.resolve(HERE, "..", "src", "cli", "main.js");
const ENTRY = 'plugins.entries["openclaw-workspace-sync"].config';

const hostConfig = (entry: Record<string, unknown>) => ({
  models: { providers: { openai: { apiKey: "${OPENAI_API_KEY}" } } },
  agents: { list: [{ id: "main" }] },
  channels: { telegram: { enabled: true } },
  plugins: { entries: { "openclaw-workspace-sync": entry } },
});

async function file(t: { after(fn: () => Promise<void>): void }, content: unknown): Promise<string> {
  const { dir, cleanup } = await tempDir("ws-host-file-");
  t.after(cleanup);
  const p = path.join(dir, "openclaw.json");
  await fsp.writeFile(p, JSON.stringify(content, null, 2));
  return p;
}

async function configError(p: Promise<unknown>): Promise<ConfigError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  throw new Error("expected a ConfigError");
}

test("a host config whose entry has no config (missing or null, or no entry) reads as {}: everything off, as the host does", async (t) => {
  // The host itself calls resolvePluginConfig(raw ?? {}): no config block is "not configured", not an error.
  for (const content of [hostConfig({ enabled: true }), hostConfig({ enabled: true, config: null }), { ...hostConfig({}), plugins: { entries: {} } }]) {
    const c = await loadConfigFile(await file(t, content), { env: {} });
    assert.equal(c.sync.provider, "off");
    assert.equal(c.backup, undefined);
    assert.deepEqual(c.warnings, [], "the host's own keys are not read");
  }
});

test("a plugin config with a stray `plugins` key is still the plugin config (only plugins.entries and none of the plugin's keys make a host config)", async (t) => {
  const local = { provider: "local", mode: "mailbox", local: { root: "r" } };
  for (const content of [
    { sync: local, plugins: { x: 1 } },
    { sync: local, plugins: { entries: { "openclaw-workspace-sync": { config: { sync: { provider: "s3" } } } } } },
    { backup: { enabled: false }, sync: local, plugins: { entries: {} } },
    { ...local, plugins: { entries: {} } },
  ]) {
    const c = await loadConfigFile(await file(t, content), { env: {} });
    assert.equal(c.sync.provider, "local", JSON.stringify(content));
    assert.ok(c.warnings.some((w) => /^plugins: unknown key, ignored/.test(w)), c.warnings.join("\n"));
  }
  // `plugins` without an `entries` object, and none of the plugin's keys: a host config all the
  // same, none of whose own keys (nor their ${ENV} references) is read.
  const c = await loadConfigFile(await file(t, { models: { providers: { x: { apiKey: "${MISSING_KEY_XYZ}" } } }, agents: { x: 1 }, plugins: { allow: ["openclaw-workspace-sync"] } }), { env: {} });
  assert.equal(c.sync.provider, "off");
  assert.deepEqual(c.warnings, []);
  assert.deepEqual(pluginEntryConfig({ sync: local, plugins: { entries: {} } }), { sync: local, plugins: { entries: {} } });
});

test("a host config's entry config written as a non-object is described by type only", async (t) => {
  const p = await file(t, hostConfig({ config: "sl.TOKEN_SECRET_XYZ" }));
  const err = await configError(loadConfigFile(p, { env: {} }));
  assert.equal(err.path, ENTRY);
  assert.match(err.message, /expected an object, got a string/);
  assert.doesNotMatch(err.message, /TOKEN_SECRET/);
});

test("a host config's entry config is used alone: the host's own ${ENV} references and keys are not read", async (t) => {
  const p = await file(t, hostConfig({ enabled: true, config: { sync: { provider: "local", mode: "mirror", local: { root: "/srv/x" } } } }));
  const c = await loadConfigFile(p, { env: {} });
  assert.equal(c.sync.provider, "local");
  assert.deepEqual(c.warnings, []);
  assert.deepEqual(pluginEntryConfig({ sync: {} }), { sync: {} }, "a plugin config (no `plugins` key) is used as it is");
});

test("workspace-sync config check on a host config without the block says where to configure, as the plugin did", async (t) => {
  for (const entry of [{ enabled: true }, { enabled: true, config: null }]) {
    const p = await file(t, hostConfig(entry));
    const text = await runNode(BIN, ["config", "check", "--config", p], { OPENAI_API_KEY: "" });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /Provider: not configured/);
    assert.match(text.stdout, /Configure in openclaw\.json plugins\.entries\.openclaw-workspace-sync\.config/);
    const json = await runNode(BIN, ["config", "check", "--config", p, "--json"], { OPENAI_API_KEY: "" });
    assert.equal(json.code, 0, json.stderr);
    assert.equal((JSON.parse(json.stdout) as { config: { sync: { provider: string } } }).config.sync.provider, "off");
    for (const out of [text.stdout + text.stderr, json.stdout + json.stderr]) assert.doesNotMatch(out, /OPENAI_API_KEY|unknown key/);
  }
});
