/**
 * The command table for a commander-based front end: adds one commander command per table row
 * (groups become parent commands), with the table's summary, help and options, and runs the
 * table's handler. The OpenClaw host passes its `openclaw` program here; nothing in this file
 * imports commander, it only calls the few methods every commander version since 7 has.
 */
import { errorMessage } from "../errors.js";
import { globalOptions, optionKey, optionsFor, type OptionsOf, type OptionValues, type ParsedArgs } from "./args.js";
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

/** What the front end supplies. `F` is its global flags; it receives their values typed. */
export interface CommanderFrontEnd<F extends readonly CliFlag[] = readonly CliFlag[]> {
  /** Options added to every command besides its own (for example `--json` and `--verbose`). */
  globalFlags: F;
  /**
   * The context for one run, from the global options (the host supplies workspace, state folder
   * and config). `verbose` is already true for a command whose log lines are its output.
   */
  context(globals: OptionsOf<F>, command: CliCommand): CliContext | Promise<CliContext>;
  /** Receives the exit code of a run (a host sets `process.exitCode`; it must not exit the process). */
  exit(code: number): void;
  /**
   * Shows a usage error the table found (a value outside an option's choices); the exit code 2
   * follows through `exit`. Default: `error: <message>` on stderr, as commander words its own.
   */
  usageError?(message: string, command: CliCommand): void;
}

/** `dry-run` → `dryRun`, the key commander stores an option under (the options object's key too). */
export const commanderKey = optionKey;

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
 * `--state-dir`: the host owns them) are simply not in `globalFlags`. `commands` defaults to the
 * whole table (a host may offer fewer).
 */
export function addCommandsTo<const F extends readonly CliFlag[]>(parent: CommanderCommand, frontEnd: CommanderFrontEnd<F>, commands: readonly CliCommand[] = COMMANDS): void {
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
  for (const g of GROUPS) if (commands.some((c) => commandKey(c.path).startsWith(`${commandKey(g.path)} `))) nodeFor(g.path);
  for (const c of commands) {
    const node = (nodes.get(commandKey(c.path)) ?? nodeFor(c.path)).description(c.summary);
    const flags: readonly CliFlag[] = [...c.flags, ...frontEnd.globalFlags];
    for (const f of flags) node.option(commanderFlags(f), f.help.replace(/\n/g, " "));
    if (c.help) node.addHelpText("after", `\n${c.help}`);
    node.action(async (...params: unknown[]) => {
      // commander passes (...arguments, options, command): the command is last.
      const self = params[params.length - 1] as CommanderCommand;
      // With parents' options: `sync status -v` leaves `-v` with `sync`, which has it too (as may the host's root).
      const args = argsFromCommander(self.optsWithGlobals?.() ?? self.opts(), flags, c.path);
      let options: OptionValues;
      try {
        options = optionsFor(args, c, frontEnd.globalFlags);
      } catch (err) {
        if (frontEnd.usageError) frontEnd.usageError(errorMessage(err), c);
        else process.stderr.write(`error: ${errorMessage(err)}\n`);
        frontEnd.exit(2);
        return;
      }
      if (c.verbose) args.flags.add("verbose");
      const ctx = await frontEnd.context(globalOptions(args, frontEnd.globalFlags), c);
      frontEnd.exit(await runCommandHandler(c, ctx, options));
    });
  }
}
