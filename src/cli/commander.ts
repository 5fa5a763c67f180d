/**
 * The command table for a commander-based front end: adds one commander command per table row
 * (groups become parent commands), with the table's summary, help and options, and runs the
 * table's handler. The OpenClaw host passes its `openclaw` program here; nothing in this file
 * imports commander, it only calls the few methods every commander version since 7 has.
 */
import type { ParsedArgs } from "./args.js";
import type { CliContext } from "./context.js";
import { runCommandHandler } from "./dispatch.js";
import { COMMANDS, GROUPS, commandKey, findGroup, type CliCommand, type CliFlag } from "./table.js";

/** The part of commander's `Command` this file uses. */
export interface CommanderCommand {
  command(nameAndArgs: string): CommanderCommand;
  description(text: string): CommanderCommand;
  option(flags: string, description?: string): CommanderCommand;
  addHelpText(position: "before" | "after", text: string): CommanderCommand;
  action(fn: (...args: unknown[]) => void | Promise<void>): CommanderCommand;
  opts(): Record<string, unknown>;
  /** Its options merged with its parents' (commander ≥ 10). */
  optsWithGlobals?(): Record<string, unknown>;
}

/** What the front end supplies. */
export interface CommanderFrontEnd {
  /** Options added to every command besides its own (for example `--json` and `--verbose`). */
  globalFlags: readonly CliFlag[];
  /** The context for one run, from the parsed options (the host supplies workspace, state folder and config). */
  context(args: ParsedArgs, command: CliCommand): CliContext | Promise<CliContext>;
  /** Receives the exit code of a run (a host sets `process.exitCode`; it must not exit the process). */
  exit(code: number): void;
}

/** `dry-run` → `dryRun`, the key commander stores an option under. */
export function commanderKey(name: string): string {
  return name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** `-v, --verbose`, `--to <dir>` (commander splits flags on `|`, so `NAME|latest` becomes `<name>`). */
export function commanderFlags(flag: CliFlag): string {
  const placeholder = flag.value ? ` <${/^[A-Z]+/.exec(flag.value)?.[0]?.toLowerCase() ?? "value"}>` : "";
  return `${flag.short ? `-${flag.short}, ` : ""}--${flag.name}${placeholder}`;
}

/** Commander's parsed options back to the table's neutral shape. */
export function argsFromCommander(opts: Record<string, unknown>, flags: readonly CliFlag[], path: readonly string[]): ParsedArgs {
  const args: ParsedArgs = { positional: [...path], values: new Map(), flags: new Set() };
  for (const f of flags) {
    const v = opts[commanderKey(f.name)];
    if (f.value && typeof v === "string") args.values.set(f.name, v);
    else if (!f.value && v === true) args.flags.add(f.name);
  }
  return args;
}

/**
 * Adds every table command under `parent` (for the host: `parent` is the `workspace-sync`
 * command it created under `openclaw`). Options the front end does not support (`--config`,
 * `--state-dir`: the host owns them) are simply not in `globalFlags`.
 */
export function addCommandsTo(parent: CommanderCommand, frontEnd: CommanderFrontEnd): void {
  const nodes = new Map<string, CommanderCommand>([["", parent]]);
  const nodeFor = (path: readonly string[]): CommanderCommand => {
    const key = commandKey(path);
    const existing = nodes.get(key);
    if (existing) return existing;
    const group = findGroup(path);
    const up = nodeFor(path.slice(0, -1));
    const node = up.command(path[path.length - 1] as string).description(group?.summary ?? "");
    nodes.set(key, node);
    return node;
  };
  for (const g of GROUPS) nodeFor(g.path);
  for (const c of COMMANDS) {
    const node = (nodes.get(commandKey(c.path)) ?? nodeFor(c.path)).description(c.summary);
    const flags = [...c.flags, ...frontEnd.globalFlags];
    for (const f of flags) node.option(commanderFlags(f), f.help.replace(/\n/g, " "));
    if (c.help) node.addHelpText("after", `\n${c.help}`);
    node.action(async (...params: unknown[]) => {
      // commander passes (...arguments, options, command): the command is last.
      const self = params[params.length - 1] as CommanderCommand;
      // With parents' options: `sync status -v` leaves `-v` with `sync`, which has it too (as may the host's root).
      const args = argsFromCommander(self.optsWithGlobals?.() ?? self.opts(), flags, c.path);
      if (c.verbose) args.flags.add("verbose");
      const ctx = await frontEnd.context(args, c);
      frontEnd.exit(await runCommandHandler(c, ctx));
    });
  }
}
