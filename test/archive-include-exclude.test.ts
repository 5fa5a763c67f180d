import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  createExcludeMatcher,
  includeItemPath,
  normaliseExcludePattern,
  resolveIncludeSources,
} from "../src/archive/index.js";
import type { IncludeItem } from "../src/config/types.js";
import { DEFAULT_BACKUP_EXCLUDE, DEFAULT_BACKUP_INCLUDE } from "../src/config/defaults.js";

const roots = { workspaceDir: "/home/a/.openclaw/workspace", stateDir: "/home/a/.openclaw" };

describe("include set", () => {
  it("maps every include item to the plugin's path", () => {
    const table: [IncludeItem, string][] = [
      ["workspace", "/home/a/.openclaw/workspace"],
      ["config", "/home/a/.openclaw/openclaw.json"],
      ["cron", "/home/a/.openclaw/cron"],
      ["memory", "/home/a/.openclaw/workspace/memory"],
      ["sessions", "/home/a/.openclaw/sessions"],
      ["transcripts", "/home/a/.openclaw/sessions"],
      ["credentials", "/home/a/.openclaw/credentials"],
      ["hooks", "/home/a/.openclaw/hooks"],
      ["extensions", "/home/a/.openclaw/extensions"],
      ["agents", "/home/a/.openclaw/agents"],
      ["skills", "/home/a/.openclaw/workspace/skills"],
      ["pages", "/home/a/.openclaw/workspace/pages"],
      ["env", "/home/a/.openclaw/workspace/.env"],
    ];
    for (const [item, p] of table) assert.equal(includeItemPath(item, roots), p, item);
  });

  it("defaults to workspace, config, cron, memory", () => {
    assert.deepEqual([...DEFAULT_BACKUP_INCLUDE], ["workspace", "config", "cron", "memory"]);
  });

  it("names each item by its basename at the archive root and drops repeated paths", () => {
    const sources = resolveIncludeSources(["workspace", "config", "sessions", "transcripts", "env", "workspace"], roots);
    assert.deepEqual(
      sources.map((s) => [s.item, s.archiveName]),
      [
        ["workspace", "workspace"],
        ["config", "openclaw.json"],
        ["sessions", "sessions"],
        ["env", ".env"],
      ],
    );
  });

  it("resolves relative roots against the current directory", () => {
    const [s] = resolveIncludeSources(["workspace"], { workspaceDir: "ws", stateDir: "st" });
    assert.equal(s?.path, `${process.cwd()}/ws`);
    assert.equal(s?.archiveName, "ws");
  });
});

describe("exclude patterns (GNU tar --exclude semantics)", () => {
  it("normalises rclone-style patterns as the plugin does", () => {
    assert.equal(normaliseExcludePattern("**/.DS_Store"), ".DS_Store");
    assert.equal(normaliseExcludePattern(".git/**"), ".git");
    assert.equal(normaliseExcludePattern("**/node_modules/**"), "node_modules");
    assert.equal(normaliseExcludePattern("*.log"), "*.log");
  });

  it("matches a pattern without '/' against any path component", () => {
    const m = createExcludeMatcher(DEFAULT_BACKUP_EXCLUDE);
    assert.equal(m("workspace/.git", true), true);
    assert.equal(m("workspace/a/b/node_modules", true), true);
    assert.equal(m("workspace/a/node_modules/x/y.js"), true, "anything below an excluded folder");
    assert.equal(m("workspace/proj/__pycache__/m.pyc"), true);
    assert.equal(m("workspace/.venv", true), true);
    assert.equal(m("workspace/venv/bin/python"), true);
    assert.equal(m("workspace/.gitignore"), false);
    assert.equal(m("workspace/venvy"), false);
    assert.equal(m("workspace/notes.md"), false);
  });

  it("globs match dot files and any depth", () => {
    const m = createExcludeMatcher(["*.log", "**/.DS_Store", "tmp-*"]);
    assert.equal(m("workspace/app.log"), true);
    assert.equal(m("workspace/deep/er/.hidden.log"), true);
    assert.equal(m("workspace/a/.DS_Store"), true);
    assert.equal(m("workspace/tmp-1", true), true);
    assert.equal(m("workspace/log.txt"), false);
  });

  it("matches a pattern with '/' against any trailing run of components", () => {
    const m = createExcludeMatcher(["cache/tmp", "build/**"]);
    assert.equal(m("workspace/a/cache/tmp", true), true);
    assert.equal(m("workspace/cache/tmp/file"), true);
    assert.equal(m("workspace/cache/tmpx"), false);
    assert.equal(m("workspace/tmp"), false);
    assert.equal(m("workspace/x/build/out.js"), true);
  });

  it("tests only the path itself when the caller already checked its folders", () => {
    const m = createExcludeMatcher(["node_modules"]);
    assert.equal(m("workspace/node_modules/a.js", false, true), false);
    assert.equal(m("workspace/node_modules", true, true), true);
  });

  it("excludes an item root when its name matches, like tar does", () => {
    const m = createExcludeMatcher(["memory"]);
    assert.equal(m("memory", true), true);
    assert.equal(m("workspace/memory/MEMORY.md"), true);
  });

  it("supports anchored (/x) and folder-only (x/) patterns, and ignores empties and comments", () => {
    const m = createExcludeMatcher(["/workspace/tmp", "logs/", "", "# comment"]);
    assert.equal(m("workspace/tmp", true), true);
    assert.equal(m("workspace/a/tmp", true), false);
    assert.equal(m("workspace/logs", true), true);
    assert.equal(m("workspace/logs", false), false);
    assert.equal(m("workspace/logs/a.txt"), true);
    assert.equal(createExcludeMatcher([])("workspace/.git", true), false);
  });
});
