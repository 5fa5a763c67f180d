/**
 * The command table: every CLI command once, with its path, wording, options and handler. The
 * `workspace-sync` bin builds its parser, help and dispatch from it (`main.ts`, `help.ts`), and a
 * commander-based front end (the OpenClaw host's `openclaw workspace-sync …`) walks the same rows
 * (`commander.ts`), so both show the same words and run the same code.
 */
import type { CliContext } from "./context.js";
import { backupList, backupNow, backupPrune, backupRestore, backupStatus, backupVerify } from "./commands/backup.js";
import { configCheckCommand } from "./commands/config.js";
import { runCommand } from "./commands/run.js";
import { statusCommand } from "./commands/status.js";
import { listCommand, syncCommand, syncStatusCommand } from "./commands/sync.js";

/** One option. Without `value` it is a boolean flag; with it, it takes one value. */
export interface CliFlag {
  /** Long name without dashes, e.g. `"dry-run"`. */
  name: string;
  /** One-letter alias without the dash, e.g. `"v"`. */
  short?: string;
  /** Placeholder of the value, e.g. `"NAME|latest"`; absent for boolean flags. */
  value?: string;
  /** What it does. A `\n` starts a continuation line in the bin's help (a space elsewhere). */
  help: string;
}

/** One runnable command. */
export interface CliCommand {
  /** Words that name it, e.g. `["backup", "restore"]`. */
  path: readonly string[];
  /** One line for command lists. */
  summary: string;
  /** Options shown next to the path in the bin's command list, e.g. `"[--dry-run]"`. */
  listUsage?: string;
  /** Options shown in its usage line (default: none besides `[options]`). */
  usage?: string;
  /** Longer description (may be empty). */
  help: string;
  /** Options it accepts besides the global ones. */
  flags: readonly CliFlag[];
  /** Positional words after the path (default 0). */
  args?: number;
  /** Log lines are its output: `--verbose` is implied. */
  verbose?: boolean;
  /** Runs it; resolves to the exit code (0 success, 1 failure, 3 backup made but incomplete). */
  handler(ctx: CliContext): Promise<number>;
}

/** A word that only groups commands (`backup`, `config`). */
export interface CliGroup {
  path: readonly string[];
  /** One line for command lists. */
  summary: string;
  /** Text after its usage line in the bin's help. */
  help: string;
}

/** Options every command of the bin accepts. */
export const GLOBAL_FLAGS: readonly CliFlag[] = [
  {
    name: "config",
    value: "FILE",
    help: 'JSON config (or set WORKSPACE_SYNC_CONFIG). An openclaw.json with\nplugins.entries["openclaw-workspace-sync"].config works too.',
  },
  { name: "workspace", value: "DIR", help: "Agent workspace (default: OPENCLAW_WORKSPACE or the current folder)" },
  { name: "state-dir", value: "DIR", help: "State folder (default: OPENCLAW_STATE_DIR or ~/.openclaw)" },
  { name: "json", help: "Machine-readable output on stdout" },
  { name: "verbose", short: "v", help: "Log lines on stderr" },
  { name: "help", short: "h", help: "Show help" },
];

const dryRun = (what: string): CliFlag => ({ name: "dry-run", help: what });
const snapshot: CliFlag = { name: "snapshot", value: "NAME|latest", help: "Snapshot name, or latest (the default)" };
const authFlags: readonly CliFlag[] = [
  { name: "require-authenticated", help: "Refuse snapshots without a valid MAC (older ones, the plugin's, tar | openssl)" },
  { name: "allow-unauthenticated", help: "Accept a snapshot without a MAC even though an older one is authenticated" },
];

/** Every command, in the order of the bin's command list. */
export const COMMANDS: readonly CliCommand[] = [
  {
    path: ["backup", "now"],
    summary: "Create a snapshot now",
    help: "Streams the include set (tar, gzip, AES-256-CBC when backup.encrypt) to the backup provider as\nbackup-YYYYMMDDTHHMMSSZ.tar.gz[.enc], then applies backup.retain.",
    flags: [],
    handler: backupNow,
  },
  {
    path: ["backup", "list"],
    summary: "List snapshots, newest first, with the retention rule keeping each",
    help: "Lists snapshots newest first, with the retention rules that keep each one.",
    flags: [],
    handler: backupList,
  },
  {
    path: ["backup", "restore"],
    summary: "Restore a snapshot into a staging folder",
    usage: "[--snapshot NAME|latest] [--to DIR] [--dry-run] [--symlinks refuse|skip|allow]\n                              [--require-authenticated|--allow-unauthenticated]",
    help:
      "Restores into a staging folder (default <state-dir>/.backup-restore/<snapshot>) that must be empty\n" +
      "or new; live data is never overwritten. Move what you need back by hand. Symlinks pointing outside\n" +
      "the folder fail the restore by default; --symlinks skip leaves them out, allow recreates them.\n" +
      "The snapshot's MAC is checked before anything is moved into the folder. Snapshots without a MAC\n" +
      "(older ones, the plugin's, tar | openssl) restore with a warning; --require-authenticated (or\n" +
      "backup.requireAuthenticated) refuses them. --allow-unauthenticated restores one even though an\n" +
      "older snapshot is authenticated (normally refused as a possible rollback).",
    flags: [
      snapshot,
      { name: "to", value: "DIR", help: "Folder to restore into (empty or new)" },
      dryRun("Show the snapshot and destination without restoring"),
      { name: "symlinks", value: "refuse|skip|allow", help: "Symlinks pointing outside the folder: refuse (default), skip or allow" },
      ...authFlags,
    ],
    handler: backupRestore,
  },
  {
    path: ["backup", "prune"],
    summary: "Apply the retention policy",
    listUsage: "[--dry-run]",
    usage: "[--dry-run]",
    help: "Applies backup.retain (restic's forget semantics). Names that are not snapshots are never deleted.",
    flags: [dryRun("Show what would be kept and pruned without deleting")],
    handler: backupPrune,
  },
  {
    path: ["backup", "verify"],
    summary: "Check snapshots end to end (checksum, decrypt, gzip, tar)",
    usage: "[--snapshot NAME|latest|--all] [--require-authenticated|--allow-unauthenticated]",
    help: "Downloads and checks snapshots without writing anything: MAC (or stored SHA-256), decryption, gzip CRC, tar.",
    flags: [{ name: "all", help: "Check every snapshot" }, snapshot, ...authFlags],
    handler: backupVerify,
  },
  {
    path: ["backup", "status"],
    summary: "Last backup on this host",
    help: "",
    flags: [],
    handler: backupStatus,
  },
  {
    path: ["sync"],
    summary: "Run the configured sync mode once (mailbox, mirror or bisync)",
    listUsage: "[--dry-run]",
    usage: "[--dry-run]",
    help:
      "Runs the configured mode once: mailbox (push workspace, drain cloud _outbox into _inbox),\n" +
      "mirror (workspace → cloud, optional ingest) or bisync (two-way, conflicts kept as .conflict).",
    flags: [dryRun("Show what would change without changing anything")],
    handler: syncCommand,
  },
  {
    path: ["sync", "status"],
    summary: "Last sync on this host",
    help: "",
    flags: [],
    handler: syncStatusCommand,
  },
  {
    path: ["list"],
    summary: "List files in the cloud folder",
    help: "Lists the files in the cloud folder (sync.remotePath).",
    flags: [],
    handler: listCommand,
  },
  {
    path: ["status"],
    summary: "Provider, paths, connectivity and last runs",
    help: "",
    flags: [],
    handler: statusCommand,
  },
  {
    path: ["config", "check"],
    summary: "Validate the config and print it with secrets masked",
    help: "",
    flags: [],
    handler: configCheckCommand,
  },
  {
    path: ["run"],
    summary: "Run scheduled backups and syncs until SIGINT/SIGTERM",
    help: "Runs the backup and sync schedules in the foreground until SIGINT or SIGTERM, then stops cleanly.",
    flags: [],
    verbose: true,
    handler: runCommand,
  },
];

/** Words that group commands. */
export const GROUPS: readonly CliGroup[] = [
  {
    path: ["backup"],
    summary: "Encrypted snapshots: create, list, restore, prune, verify",
    help: 'Run "workspace-sync backup <command> --help" for details.',
  },
  {
    path: ["config"],
    summary: "Check the config",
    help:
      "Validates the config (the nested { sync, backup } form or the older flat form), interpolates\n" +
      "${ENV} variables and prints the resolved config with every secret masked.",
  },
];

/** `"backup restore"` for `["backup", "restore"]`. */
export const commandKey = (path: readonly string[]): string => path.join(" ");

/** The command named by exactly these words, if any. */
export function findCommand(words: readonly string[]): CliCommand | undefined {
  const key = commandKey(words);
  return COMMANDS.find((c) => commandKey(c.path) === key);
}

/** The group named by exactly these words, if any. */
export function findGroup(words: readonly string[]): CliGroup | undefined {
  const key = commandKey(words);
  return GROUPS.find((g) => commandKey(g.path) === key);
}

/** Commands one level below `path` (e.g. `backup now` … under `backup`), in table order. */
export function childCommands(path: readonly string[]): CliCommand[] {
  return COMMANDS.filter((c) => c.path.length === path.length + 1 && path.every((w, i) => c.path[i] === w));
}
