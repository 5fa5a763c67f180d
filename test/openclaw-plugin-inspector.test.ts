/**
 * The documented checker, `@openclaw/plugin-inspector`, run on the packed package (what
 * `openclaw plugins install` receives) against the real OpenClaw host package the manifest names
 * (`package.json` `openclaw.build.openclawVersion`). It reads the manifest, the package metadata
 * and the built entry the way the host's loader does, and reports contract breakages by priority.
 *
 * Both packages come from the npm registry, so this runs under CI (`CI=true`) or with
 * `WS_PLUGIN_INSPECTOR=1`, and skips otherwise. Downloads are cached in the temp folder per
 * version, so the Node 24 and Node 22 passes of CI reuse the first one's.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const INSPECTOR_VERSION = "0.3.20";
const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { openclaw: { build: { openclawVersion: string } } };
const OPENCLAW_VERSION = pkg.openclaw.build.openclawVersion;
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";

function npm(args: string[], cwd: string): string {
  return execFileSync(NPM, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 240_000 });
}

/** A folder under the temp dir holding `name@version`, fetched once. */
function cached(name: string, make: (dir: string) => void): string {
  const dir = path.join(os.tmpdir(), `ws-plugin-inspector-cache`, name);
  if (existsSync(path.join(dir, ".complete"))) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  make(dir);
  execFileSync("touch", [path.join(dir, ".complete")]);
  return dir;
}

interface InspectorReport {
  status: string;
  summary: Record<string, number>;
  fixtures: { id: string; status: string; hooks: string[]; registrations: string[]; manifestContracts: string[] }[];
}

test("plugin-inspector passes the packed package against the OpenClaw host it was built for", { timeout: 600_000 }, (t) => {
  if (process.env.CI !== "true" && process.env.WS_PLUGIN_INSPECTOR !== "1") {
    t.skip("needs the npm registry: run with WS_PLUGIN_INSPECTOR=1 (CI runs it)");
    return;
  }
  const inspector = cached(`inspector-${INSPECTOR_VERSION}`, (dir) => {
    npm(["install", "--no-save", "--no-audit", "--no-fund", "--prefix", dir, `@openclaw/plugin-inspector@${INSPECTOR_VERSION}`], dir);
  });
  const host = cached(`openclaw-${OPENCLAW_VERSION}`, (dir) => {
    const tgz = npm(["pack", `openclaw@${OPENCLAW_VERSION}`, "--silent"], dir).trim().split("\n").pop()!;
    execFileSync("tar", ["xzf", path.join(dir, tgz), "-C", dir]);
    rmSync(path.join(dir, tgz));
  });

  const work = mkdtempSync(path.join(os.tmpdir(), "ws-inspect-"));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  // `npm pack` builds dist/ first (prepack), so this is exactly what a user installs.
  const tgz = npm(["pack", "--silent", "--pack-destination", work], ROOT).trim().split("\n").pop()!;
  execFileSync("tar", ["xzf", path.join(work, tgz), "-C", work]);
  const pluginRoot = path.join(work, "package");
  assert.ok(existsSync(path.join(pluginRoot, "openclaw.plugin.json")), "the manifest is packed");
  assert.ok(readdirSync(path.join(pluginRoot, "skills", "workspace-sync")).includes("SKILL.md"), "the skill is packed");

  const cli = path.join(inspector, "node_modules", "@openclaw", "plugin-inspector", "src", "cli.js");
  const out = path.join(work, "reports");
  let stdout = "";
  try {
    stdout = execFileSync(process.execPath, [cli, "check", "--plugin-root", pluginRoot, "--openclaw", path.join(host, "package"), "--out", out, "--json"], {
      cwd: pluginRoot,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 240_000,
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    assert.fail(`plugin-inspector failed:\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
  }
  const report = JSON.parse(stdout) as InspectorReport;
  const issues = readFileSync(path.join(out, "plugin-inspector-issues.md"), "utf8");
  assert.equal(report.status, "pass", issues);
  for (const key of ["breakageCount", "p0IssueCount", "p1IssueCount", "liveIssueCount", "compatGapCount", "deprecationWarningCount", "upstreamIssueCount"]) {
    assert.equal(report.summary[key], 0, `${key}:\n${issues}`);
  }
  const fixture = report.fixtures.find((f) => f.id === "openclaw-workspace-sync");
  assert.ok(fixture, "the plugin is found under its id");
  assert.equal(fixture.status, "ok");
  assert.deepEqual([...fixture.registrations].sort(), ["registerCli", "registerService", "registerTool"]);
  assert.deepEqual([...fixture.hooks].sort(), ["session_end", "session_start"]);
  assert.deepEqual(fixture.manifestContracts, ["tools"]);
});
