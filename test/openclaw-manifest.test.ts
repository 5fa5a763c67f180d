/**
 * The OpenClaw manifest (openclaw.plugin.json) and package metadata: the checked-in manifest is
 * exactly what the generator makes from the code, its config schema agrees with the library's
 * config validation, secrets are marked sensitive, and package.json points the host at the entry.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { manifestText, buildManifest, INBOX_TOOL_NAME, CLI_ROOT, safeParsePluginConfig } from "../src/openclaw/index.js";
import pluginEntry from "../src/openclaw/index.js";
import { resolvePluginConfig, protectFromInterpolation } from "../src/openclaw/config.js";
import { PLUGIN_ID, SECRET_KEYS } from "../src/config/index.js";
import { validateJsonSchema } from "./support/json-schema.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const read = (f: string) => readFileSync(path.join(ROOT, f), "utf8");

test("the checked-in openclaw.plugin.json is what the generator makes (run `npm run docs` after changing the config schema)", () => {
  assert.equal(read("openclaw.plugin.json"), manifestText());
});

test("the manifest declares what register() uses: id, onStartup, the CLI root, the tool, the skills", () => {
  const m = buildManifest();
  assert.equal(m.id, PLUGIN_ID);
  assert.equal(m.id, pluginEntry.id, "the entry's id is the manifest's (and users' plugins.entries key)");
  assert.equal(m.activation.onStartup, true);
  assert.deepEqual(m.cliCommands.map((c) => c.name), [CLI_ROOT]);
  assert.deepEqual(m.contracts.tools, [INBOX_TOOL_NAME]);
  assert.deepEqual(m.skills, ["./skills"]);
  const skill = read("skills/workspace-sync/SKILL.md");
  assert.match(skill, /^---\nname: workspace-sync\ndescription: .{20,160}\n/);
  const frontmatter = skill.split("\n---\n")[0] ?? "";
  assert.doesNotMatch(frontmatter, /requires|rclone/, "the skill no longer needs the rclone binary");
  assert.match(skill, new RegExp(INBOX_TOOL_NAME));
});

test("package.json: the openclaw entry, the subpath export, and the files the host reads are shipped", () => {
  const pkg = JSON.parse(read("package.json")) as {
    openclaw: { extensions: string[]; compat: { pluginApi: string } };
    exports: Record<string, { import: string; types: string }>;
    files: string[];
  };
  assert.deepEqual(pkg.openclaw.extensions, ["./dist/openclaw/index.js"]);
  assert.match(pkg.openclaw.compat.pluginApi, /^>=2026\./);
  assert.equal(pkg.exports["./openclaw"]?.import, "./dist/openclaw/index.js");
  for (const f of ["dist", "openclaw.plugin.json", "skills"]) assert.ok(pkg.files.includes(f), `${f} is in files`);
});

test("every secret is sensitive in the UI hints, in the nested and the flat layout", () => {
  const hints = buildManifest().uiHints;
  const secretHints = Object.entries(hints).filter(([k]) => SECRET_KEYS.has(k.split(".").pop() as string));
  // s3 (3 secrets) and dropbox (3) under sync., backup. and the flat root, plus backup.passphrase.
  assert.ok(secretHints.length >= 19, `found ${secretHints.length}`);
  for (const [k, h] of secretHints) assert.equal(h.sensitive, true, k);
  for (const k of ["backup.passphrase", "sync.s3.secretAccessKey", "s3.secretAccessKey", "backup.dropbox.token", "dropbox.appSecret", "sync.s3.endpoint"]) {
    assert.equal(hints[k]?.sensitive, true, k);
  }
  assert.equal(hints["sync.mode"]?.sensitive, undefined);
  assert.equal(hints["backup.kdfIterations"]?.advanced, true);
});

// Configs with the library's verdict; the manifest's JSON Schema must agree (the host validates
// with it before the plugin loads). Only the library checks cross-key rules, listed as `libraryOnly`.
const CASES: { name: string; config: unknown; valid: boolean; libraryOnly?: boolean }[] = [
  { name: "empty", config: {}, valid: true },
  { name: "nested", config: { sync: { provider: "s3", mode: "mailbox", s3: { bucket: "b", region: "auto" } }, backup: { enabled: true, encrypt: true, passphrase: "x", retain: { daily: 7, weekly: 4 } } }, valid: true },
  { name: "flat, the plugin's layout", config: { provider: "dropbox", mode: "bisync", remotePath: "share", interval: 300, dropbox: { token: "t" }, backup: { enabled: true, retain: 3 } }, valid: true },
  { name: "unknown keys only warn", config: { sync: { provider: "off", somethingNew: 1 }, backup: { enabled: false, futureKey: true } }, valid: true },
  { name: "the plugin's rclone keys are ignored", config: { sync: { remoteName: "cloud", configPath: "/x", gdrive: { token: "t" } } }, valid: true },
  { name: "a wrong provider", config: { sync: { provider: "ftp" } }, valid: false },
  { name: "an rclone-only provider", config: { provider: "gdrive" }, valid: false },
  { name: "a wrong mode", config: { sync: { provider: "s3", mode: "two-way" } }, valid: false },
  { name: "interval as a string", config: { sync: { interval: "300" } }, valid: false },
  { name: "negative interval", config: { backup: { interval: -1 } }, valid: false },
  { name: "retain typo", config: { backup: { retain: { dayly: 7 } } }, valid: false },
  { name: "retain bad duration", config: { backup: { retain: { within: "2 weeks" } } }, valid: false },
  { name: "include item unknown", config: { backup: { include: ["workspace", "everything"] } }, valid: false },
  { name: "compression level 10", config: { backup: { compressionLevel: 10 } }, valid: false },
  { name: "fractional concurrency", config: { sync: { concurrency: 1.5 } }, valid: false },
  { name: "maxDelete over 100", config: { sync: { maxDelete: 150 } }, valid: false },
  { name: "empty local root", config: { sync: { provider: "local", local: { root: "" } } }, valid: false },
  { name: "exclude not a list", config: { sync: { exclude: "**/.git/**" } }, valid: false },
  { name: "local provider without its block", config: { sync: { provider: "local", mode: "mirror" } }, valid: false, libraryOnly: true },
  { name: "absolute localPath", config: { sync: { localPath: "/etc" } }, valid: false, libraryOnly: true },
];

for (const c of CASES) {
  test(`config schema and library agree: ${c.name}`, () => {
    const library = safeParsePluginConfig(c.config);
    assert.equal(library.success, c.valid, JSON.stringify(library));
    const problems = validateJsonSchema(buildManifest().configSchema as Record<string, unknown>, c.config);
    assert.equal(problems.length === 0, c.valid || !!c.libraryOnly, problems.join("; "));
  });
}

test("the entry's safeParse reports the library's messages with key paths", () => {
  const r = safeParsePluginConfig({ sync: { provider: "s3", exclude: ["ok", 3] }, backup: { retain: { dayly: 7 } } });
  assert.equal(r.success, false);
  const issues = r.success ? [] : r.error.issues;
  assert.ok(issues.some((i) => i.path.join(".") === "sync.exclude.1"), JSON.stringify(issues));
  assert.ok(issues.some((i) => i.path[0] === "backup" && /retain/.test(i.message)), JSON.stringify(issues));
});

test("a literal ${NAME} left by the host's interpolation is kept, not interpolated a second time", () => {
  // The user wrote "$${HOME}x" in openclaw.json; the host hands over "${HOME}x".
  const config = resolvePluginConfig({ backup: { enabled: true, encrypt: true, passphrase: "p${HOME}x$${Y}", local: { root: "/srv/b" } } });
  assert.equal(config.backup?.passphrase, "p${HOME}x$${Y}");
  assert.deepEqual(protectFromInterpolation({ a: ["${A}", 1, null], b: "$${B}" }), { a: ["$${A}", 1, null], b: "$$${B}" });
});

test("a relative local.root in the host config is resolved against the state folder (where openclaw.json is)", () => {
  const config = resolvePluginConfig({ sync: { provider: "local", mode: "mirror", local: { root: "cloud" } } }, { baseDir: "/state" });
  assert.equal(config.sync.local?.root, path.resolve("/state", "cloud"));
});

test("the config schema carries no `default`: the host fills defaults in, and root ones would turn a nested config into the flat form", () => {
  const found: string[] = [];
  const walk = (node: unknown, at: string): void => {
    if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${at}[${i}]`));
    if (!node || typeof node !== "object") return;
    for (const [k, v] of Object.entries(node)) {
      if (k === "default") found.push(at);
      walk(v, `${at}.${k}`);
    }
  };
  const m = buildManifest();
  walk(m.configSchema, "configSchema");
  assert.deepEqual(found, []);
  // The defaults are still told, in the descriptions the host's UI shows.
  const props = (m.configSchema as { properties: Record<string, { properties?: Record<string, { description?: string }> }> }).properties;
  assert.match(props.sync!.properties!.conflictResolve!.description ?? "", /Default: "newer"\./);
});
