/**
 * The host CLI (`openclaw workspace-sync …`, commander) and the `workspace-sync` bin walk one
 * command table: same commands, same options, same words, same results. The host side runs as a
 * child process with a real commander program and the plugin loaded into the fake host.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runNode, type NodeRun } from "./support/run-node.js";
import { Command } from "commander";
import { addCommandsTo, argsFromCommander, commanderFlags } from "../src/cli/commander.js";
import { COMMANDS, GROUPS } from "../src/cli/table.js";
import { HOST_FLAGS } from "../src/openclaw/index.js";
import { sampleAgent, tempDir, treeFingerprint } from "./support/tree.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..", "..");
const BIN = path.resolve(HERE, "..", "src", "cli", "main.js");
const HOST = path.resolve(HERE, "support", "openclaw-cli-child.js");
const PASS = "host-cli passphrase $(x)";

type Run = NodeRun;

const run = (file: string, args: string[]): Promise<Run> => runNode(file, args, { WS_TEST_PASS: PASS });

async function fixture(t: { after(fn: () => Promise<void>): void }) {
  const { dir, cleanup } = await tempDir("ws-hostcli-");
  t.after(cleanup);
  const { workspaceDir, stateDir } = await sampleAgent(dir);
  const cloud = path.join(dir, "cloud");
  const pluginConfig = {
    sync: { provider: "local", mode: "mailbox", local: { root: cloud } },
    backup: { enabled: true, encrypt: true, passphrase: PASS, prefix: "backups", retain: { daily: 7 } },
  };
  // The bin reads the same block from an openclaw.json (with an ${ENV} reference, as users write it).
  const openclawJson = path.join(dir, "openclaw.json");
  const fileConfig = { ...pluginConfig, backup: { ...pluginConfig.backup, passphrase: "${WS_TEST_PASS}" } };
  await fsp.writeFile(openclawJson, JSON.stringify({ plugins: { entries: { "openclaw-workspace-sync": { config: fileConfig } } } }));
  const host = (...argv: string[]) => run(HOST, [path.join(ROOT, "openclaw.plugin.json"), JSON.stringify(pluginConfig), workspaceDir, stateDir, "workspace-sync", ...argv]);
  const bin = (...argv: string[]) => run(BIN, ["--config", openclawJson, "--workspace", workspaceDir, "--state-dir", stateDir, ...argv]);
  return { dir, cloud, workspaceDir, stateDir, host, bin };
}

test("openclaw workspace-sync backup now → list → restore → status on the local provider, worded as the bin", async (t) => {
  const f = await fixture(t);
  const now = await f.host("backup", "now");
  assert.equal(now.code, 0, now.stderr);
  assert.match(now.stdout, /^Creating backup snapshot\.\.\.\nBackup complete: backup-\d{8}T\d{6}Z\.tar\.gz\.enc\nSize: \d+\.\d MB\nEncrypted: yes\n/);

  const hostList = await f.host("backup", "list");
  const binList = await f.bin("backup", "list");
  assert.equal(hostList.code, 0, hostList.stderr);
  assert.equal(hostList.stdout, binList.stdout, "same table, same handler, same words");
  assert.match(hostList.stdout, /^1 snapshot\(s\):\n\n {2}backup-.*\(encrypted\)/);
  const json = JSON.parse((await f.host("backup", "list", "--json")).stdout) as { snapshots: { name: string }[] };
  assert.equal(json.snapshots.length, 1);

  const to = path.join(f.dir, "restored");
  const dry = await f.host("backup", "restore", "--dry-run", "--to", to);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /Would restore snapshot: backup-.*\nDestination: .*restored\n\(dry-run — no files changed\)/);
  const restore = await f.host("backup", "restore", "--snapshot", "latest", "--to", to);
  assert.equal(restore.code, 0, restore.stderr);
  assert.match(restore.stdout, /Restore complete: backup-/);
  const src = await treeFingerprint(f.workspaceDir);
  const out = await treeFingerprint(path.join(to, "workspace"));
  assert.equal(out.get("notes/today.md"), src.get("notes/today.md"));
  const again = await f.host("backup", "restore", "--to", to);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^Restore failed: Restore target .* is not empty/m);

  const status = await f.host("backup", "status", "--json");
  assert.equal((JSON.parse(status.stdout) as { lastRunOk: boolean }).lastRunOk, true, "the host CLI and the bin share the state folder's records");
  const binStatus = await f.bin("backup", "status");
  assert.match(binStatus.stdout, /Last backup OK: true/);

  const sync = await f.host("sync", "--dry-run");
  assert.equal(sync.code, 0, sync.stderr);
  assert.match(sync.stdout, /Dry run completed \(nothing changed\)/);
  const check = await f.host("config", "check");
  assert.match(check.stdout, /^Config OK: plugins\.entries\["openclaw-workspace-sync"\]\.config/);
  for (const r of [now, hostList, dry, restore, again, status, sync, check]) {
    assert.doesNotMatch(r.stdout + r.stderr, /host-cli passphrase/, "the passphrase is never printed");
  }
});

test("host CLI usage errors: a mistyped option never runs the command; --help shows the table's words", async (t) => {
  const f = await fixture(t);
  const typo = await f.host("backup", "prune", "--dryrun");
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /unknown option '--dryrun'/);
  const choice = await f.host("backup", "restore", "--symlinks", "everywhere");
  assert.equal(choice.code, 2, "a value outside the option's choices is the table's usage error, as in the bin");
  assert.match(choice.stderr, /--symlinks must be refuse, skip or allow \(got "everywhere"\)/);
  const help = await f.host("backup", "restore", "--help");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Restore a snapshot into a staging folder/);
  assert.match(help.stdout, /--symlinks <value> +Symlinks pointing outside the folder/);
  assert.match(help.stdout, /live data is never overwritten/);
  assert.doesNotMatch(help.stdout, /--config|--state-dir/, "the host owns config and state folder");
  const nested = await f.host("sync", "status", "--json");
  assert.equal(nested.code, 0, nested.stderr);
  assert.equal((JSON.parse(nested.stdout) as { mode: string }).mode, "mailbox", "options after a nested command reach it");
});

test("the commander walk has every table command with its summary and options", () => {
  const program = new Command("openclaw");
  const root = program.command("workspace-sync");
  addCommandsTo(root, { globalFlags: HOST_FLAGS, context: () => Promise.reject(new Error("not run")), exit: () => undefined });
  const find = (words: readonly string[]) => words.reduce<Command | undefined>((node, w) => node?.commands.find((c) => c.name() === w), root);
  for (const g of GROUPS) assert.equal(find(g.path)?.description(), g.summary);
  for (const c of COMMANDS) {
    const node = find(c.path);
    assert.ok(node, c.path.join(" "));
    assert.equal(node.description(), c.summary);
    const longs = node.options.map((o) => o.long);
    for (const flag of [...c.flags, ...HOST_FLAGS]) assert.ok(longs.includes(`--${flag.name}`), `${c.path.join(" ")} --${flag.name}`);
  }
  assert.equal(commanderFlags({ name: "snapshot", value: "NAME|latest", help: "" }), "--snapshot <name>");
  assert.equal(commanderFlags({ name: "verbose", short: "v", help: "" }), "-v, --verbose");
  const args = argsFromCommander({ dryRun: true, snapshot: "latest", json: false, ignored: "x" }, [{ name: "dry-run", help: "" }, { name: "snapshot", value: "N", help: "" }, { name: "json", help: "" }], ["backup", "restore"]);
  assert.deepEqual([[...args.flags], [...args.values]], [["dry-run"], [["snapshot", "latest"]]]);
});
