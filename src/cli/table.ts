/**
 * The command table: every CLI command once, with its path, wording, options and handler. The
 * `workspace-sync` bin builds its parser, help and dispatch from it (`main.ts`, `help.ts`), and a
 * commander-based front end (the OpenClaw host's `openclaw workspace-sync …`) walks the same rows
 * (`commander.ts`), so both show the same words and run the same code.
 */
import type { CliFlag, OptionsOf, OptionValues } from "./args.js";
import type { CliContext } from "./context.js";

// Each command's module is loaded when it runs: a sync process never loads the backup code (the
// archive, crypto and tar modules), a backup never loads the sync code.
const backup = () => import("./commands/backup.js");
const sync = () => import("./commands/sync.js");

export type { CliFlag, OptionsOf, OptionValues } from "./args.js";

/** One runnable command. */
export interface CliCommand {
  /** Words that name it, e.g. `["backup", "restore"]`. It takes no other words. */
  path: readonly string[];
  /** One line for command lists. */
  summary: string;
  /** Options shown next to the path in the bin's command list, e.g. `"[--dry-run]"`. */
  listUsage?: string;
  /** Options shown in its usage line (default: none besides `[options]`). */
  usage?: string;
  /** Longer description (may be empty). */
  help: string;
  /** Options it accepts besides the front end's global ones; its handler receives them typed. */
  flags: readonly CliFlag[];
  /** Log lines are its output: `--verbose` is implied. */
  verbose?: boolean;
  /**
   * Runs it with its options (each flag under its camelCase name, checked against `flags` by
   * `optionsFor`); resolves to the exit code (0 success, 1 failure, 3 backup made but incomplete).
   */
  handler(ctx: CliContext, options: OptionValues): Promise<number>;
}

/** A table row as written: the handler's options are typed from the row's own flags. */
export type CommandSpec<F extends readonly CliFlag[]> = Omit<CliCommand, "flags" | "handler"> & {
  flags: F;
  handler: (ctx: CliContext, options: OptionsOf<F>) => Promise<number>;
};

/** A table row whose handler is checked against its flags (a renamed flag is a compile error). */
export function defineCommand<const F extends readonly CliFlag[]>(spec: CommandSpec<F>): CliCommand {
  return spec as unknown as CliCommand;
}

/** A word that only groups commands (`backup`, `config`). */
export interface CliGroup {
  path: readonly string[];
  /** One line for command lists. */
  summary: string;
  /** Text after its usage line in the bin's help. */
  help: string;
}

/** Options every command of the bin accepts (the bin's own: a host front end has its own). */
export const GLOBAL_FLAGS = [
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
] as const satisfies readonly CliFlag[];

const dryRun = (what: string) => ({ name: "dry-run", help: what }) as const;
const snapshot = { name: "snapshot", value: "NAME|latest", default: "latest", help: "Snapshot name, or latest (the default)" } as const;
const authFlags = [
  { name: "require-authenticated", help: "Refuse snapshots without a valid MAC (older ones, the plugin's, tar | openssl)" },
  { name: "allow-unauthenticated", help: "Accept a snapshot without a MAC even though an older one is authenticated" },
] as const;

/** Every command, in the order of the bin's command list. */
export const COMMANDS: readonly CliCommand[] = [
  defineCommand({
    path: ["backup", "now"],
    summary: "Create a snapshot now",
    help: "Streams the include set (tar, gzip, AES-256-CBC when backup.encrypt) to the backup provider as\nbackup-YYYYMMDDTHHMMSSZ.tar.gz[.enc], then applies backup.retain.",
    flags: [],
    handler: async (ctx) => (await backup()).backupNow(ctx),
  }),
  defineCommand({
    path: ["backup", "list"],
    summary: "List snapshots, newest first, with the retention rule keeping each",
    help: "Lists snapshots newest first, with the retention rules that keep each one.",
    flags: [],
    handler: async (ctx) => (await backup()).backupList(ctx),
  }),
  defineCommand({
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
      { name: "symlinks", value: "refuse|skip|allow", choices: ["refuse", "skip", "allow"], help: "Symlinks pointing outside the folder: refuse (default), skip or allow" },
      ...authFlags,
    ],
    handler: async (ctx, options) => (await backup()).backupRestore(ctx, options),
  }),
  defineCommand({
    path: ["backup", "prune"],
    summary: "Apply the retention policy",
    listUsage: "[--dry-run]",
    usage: "[--dry-run]",
    help: "Applies backup.retain (restic's forget semantics). Names that are not snapshots are never deleted.",
    flags: [dryRun("Show what would be kept and pruned without deleting")],
    handler: async (ctx, options) => (await backup()).backupPrune(ctx, options),
  }),
  defineCommand({
    path: ["backup", "verify"],
    summary: "Check snapshots end to end (checksum, decrypt, gzip, tar)",
    usage: "[--snapshot NAME|latest|--all] [--require-authenticated|--allow-unauthenticated]",
    help: "Downloads and checks snapshots without writing anything: MAC (or stored SHA-256), decryption, gzip CRC, tar.",
    flags: [{ name: "all", help: "Check every snapshot" }, snapshot, ...authFlags],
    handler: async (ctx, options) => (await backup()).backupVerify(ctx, options),
  }),
  defineCommand({
    path: ["backup", "status"],
    summary: "Last backup on this host",
    help: "",
    flags: [],
    handler: async (ctx) => (await backup()).backupStatus(ctx),
  }),
  defineCommand({
    path: ["sync"],
    summary: "Run the configured sync mode once (mailbox, mirror or bisync)",
    listUsage: "[--dry-run]",
    usage: "[--dry-run]",
    help:
      "Runs the configured mode once: mailbox (push workspace, drain cloud _outbox into _inbox),\n" +
      "mirror (workspace → cloud, optional ingest) or bisync (two-way, conflicts kept as .conflict).",
    flags: [dryRun("Show what would change without changing anything")],
    handler: async (ctx, options) => (await sync()).syncCommand(ctx, options),
  }),
  defineCommand({
    path: ["sync", "status"],
    summary: "Last sync on this host",
    help: "",
    flags: [],
    handler: async (ctx) => (await sync()).syncStatusCommand(ctx),
  }),
  defineCommand({
    path: ["list"],
    summary: "List files in the cloud folder",
    help: "Lists the files in the cloud folder (sync.remotePath).",
    flags: [],
    handler: async (ctx) => (await sync()).listCommand(ctx),
  }),
  defineCommand({
    path: ["status"],
    summary: "Provider, paths, connectivity and last runs",
    help: "",
    flags: [],
    handler: async (ctx) => (await import("./commands/status.js")).statusCommand(ctx),
  }),
  defineCommand({
    path: ["config", "check"],
    summary: "Validate the config and print it with secrets masked",
    help: "",
    flags: [],
    handler: async (ctx) => (await import("./commands/config.js")).configCheckCommand(ctx),
  }),
  defineCommand({
    path: ["run"],
    summary: "Run scheduled backups and syncs until SIGINT/SIGTERM",
    help: "Runs the backup and sync schedules in the foreground until SIGINT or SIGTERM, then stops cleanly.",
    flags: [],
    verbose: true,
    handler: async (ctx) => (await import("./commands/run.js")).runCommand(ctx),
  }),
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
