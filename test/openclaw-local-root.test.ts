/**
 * A relative `local.root` means the same folder to the `workspace-sync` bin and to the host: the
 * folder of the config file it is written in. The host's config file is OPENCLAW_CONFIG_PATH, else
 * `<state dir>/openclaw.json` (OpenClaw's own precedence), for the service, register and host CLI.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pluginEntry, { registerWorkspaceSync, type PluginState } from "../src/openclaw/index.js";
import { hostConfigDir } from "../src/openclaw/config.js";
import { createFakeHost, type FakeManifest } from "./support/fake-openclaw.js";
import { runNode } from "./support/run-node.js";
import { sampleAgent, tempDir } from "./support/tree.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.resolve(HERE, "..", "src", "cli", "main.js");
const HOST = path.resolve(HERE, "support", "openclaw-cli-child.js");
const MANIFEST_PATH = path.resolve(HERE, "..", "..", "openclaw.plugin.json");
const pluginConfig = { sync: { provider: "local", mode: "mirror", local: { root: "cloud" } } };

test("hostConfigDir follows OpenClaw: OPENCLAW_CONFIG_PATH, else <state dir>/openclaw.json", () => {
  assert.equal(hostConfigDir("/state", {}), "/state");
  assert.equal(hostConfigDir("/state", { OPENCLAW_CONFIG_PATH: "/etc/openclaw/main.json" }), "/etc/openclaw");
  assert.equal(hostConfigDir("/state", { OPENCLAW_CONFIG_PATH: "" }), "/state");
});

test("bin, host CLI and host service resolve a relative local.root against the same config file's folder", async (t) => {
  const { dir, cleanup } = await tempDir("ws-local-root-");
  t.after(cleanup);
  const { workspaceDir, stateDir } = await sampleAgent(dir);
  const confDir = path.join(dir, "conf");
  await fsp.mkdir(path.join(confDir, "cloud"), { recursive: true });
  const configFile = path.join(confDir, "openclaw.json");
  await fsp.writeFile(configFile, JSON.stringify({ plugins: { entries: { "openclaw-workspace-sync": { config: pluginConfig } } } }));
  const expected = path.join(confDir, "cloud");
  const env = { OPENCLAW_CONFIG_PATH: configFile };

  const bin = await runNode(BIN, ["config", "check", "--json", "--config", configFile, "--workspace", workspaceDir, "--state-dir", stateDir]);
  assert.equal(bin.code, 0, bin.stderr);
  assert.equal((JSON.parse(bin.stdout) as { config: { sync: { local: { root: string } } } }).config.sync.local.root, expected);

  const host = await runNode(HOST, [MANIFEST_PATH, JSON.stringify(pluginConfig), workspaceDir, stateDir, "workspace-sync", "config", "check", "--json"], env);
  assert.equal(host.code, 0, host.stderr);
  assert.equal((JSON.parse(host.stdout) as { config: { sync: { local: { root: string } } } }).config.sync.local.root, expected);

  const saved = process.env.OPENCLAW_CONFIG_PATH;
  process.env.OPENCLAW_CONFIG_PATH = configFile;
  t.after(() => {
    if (saved === undefined) delete process.env.OPENCLAW_CONFIG_PATH;
    else process.env.OPENCLAW_CONFIG_PATH = saved;
  });
  const manifest = JSON.parse(await fsp.readFile(MANIFEST_PATH, "utf8")) as FakeManifest;
  const fake = createFakeHost({ manifest, pluginConfig, stateDir });
  let state: PluginState | undefined;
  fake.load({ id: pluginEntry.id, register: (api) => void (state = registerWorkspaceSync(api)) });
  await fake.startServices({ workspaceDir, stateDir });
  t.after(() => fake.stopServices());
  assert.equal(state?.manager?.config.sync.local?.root, expected, "the service");
});
