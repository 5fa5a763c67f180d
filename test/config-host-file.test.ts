/**
 * `--config openclaw.json`: a file whose root is a host config (it has `plugins`) gives the
 * plugin's entry config, never the host config itself; without an entry config it is a typed
 * config error naming `plugins.entries["openclaw-workspace-sync"].config`, in the plugin's words.
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

test("a host config without the plugin's config block is a typed error naming the entry, not the host's keys", async (t) => {
  for (const entry of [{ enabled: true }, { enabled: true, config: null }]) {
    const p = await file(t, hostConfig(entry));
    const err = await configError(loadConfigFile(p, { env: {} }));
    assert.equal(err.code, "CONFIG_INVALID");
    assert.equal(err.path, ENTRY);
    assert.match(err.message, /Provider: not configured/);
    assert.match(err.message, /Configure in openclaw\.json plugins\.entries\.openclaw-workspace-sync\.config/);
    assert.doesNotMatch(err.message, /OPENAI_API_KEY|models|agents|channels/);
  }
  // No entry at all, or no entries: the same.
  for (const content of [{ ...hostConfig({}), plugins: { entries: {} } }, { models: {}, plugins: {} }]) {
    const err = await configError(loadConfigFile(await file(t, content), { env: {} }));
    assert.equal(err.path, ENTRY);
  }
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

test("workspace-sync config check on a host config without the block says where to configure", async (t) => {
  const p = await file(t, hostConfig({ enabled: true }));
  for (const extra of [[], ["--json"]]) {
    const r = await runNode(BIN, ["config", "check", "--config", p, ...extra], { OPENAI_API_KEY: "" });
    assert.notEqual(r.code, 0);
    const out = r.stdout + r.stderr;
    assert.match(out, /Configure in openclaw\.json plugins\.entries\.openclaw-workspace-sync\.config/);
    assert.doesNotMatch(out, /OPENAI_API_KEY|unknown key/);
  }
});
