/**
 * A small argv parser: positional words, `--flag`, `--key value` and `--key=value`. Which options
 * take a value is declared, so `--dry-run restore` is never misread. Pure, no I/O.
 */
import { WorkspaceSyncError } from "../errors.js";
import type { CliCommand, CliFlag } from "./table.js";

/** Parsed command line. */
export interface ParsedArgs {
  /** Positional words (the command path and its arguments). */
  positional: string[];
  /** Options with values. */
  values: Map<string, string>;
  /** Boolean flags that were given. */
  flags: Set<string>;
}

/**
 * Parses `argv` (without node and the script). `valueOptions` lists options that take a value;
 * `shortFlags` maps one-letter flags to their long names.
 */
export function parseArgs(argv: readonly string[], valueOptions: ReadonlySet<string>, shortFlags: Readonly<Record<string, string>> = { h: "help", v: "verbose" }): ParsedArgs {
  const out: ParsedArgs = { positional: [], values: new Map(), flags: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") {
      out.positional.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      if (valueOptions.has(name)) {
        const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
        // "--to --config x" must not take "--config" as the folder.
        if (value === undefined || (eq === -1 && value.startsWith("--"))) {
          throw new WorkspaceSyncError("CONFIG_INVALID", `--${name} needs a value`);
        }
        out.values.set(name, value);
      } else if (eq !== -1) {
        throw new WorkspaceSyncError("CONFIG_INVALID", `--${name} does not take a value`);
      } else {
        out.flags.add(name);
      }
    } else if (/^-[a-zA-Z]$/.test(arg) && Object.hasOwn(shortFlags, arg.slice(1))) {
      out.flags.add(shortFlags[arg.slice(1)] as string);
    } else if (arg.startsWith("-") && arg !== "-") {
      throw new WorkspaceSyncError("CONFIG_INVALID", `Unknown option ${arg}`);
    } else {
      out.positional.push(arg);
    }
  }
  return out;
}

/**
 * Refuses options the command does not know and extra words, so a typo such as `--dryrun` can
 * never run the real (destructive) command. Returns an error message, or undefined when fine.
 */
export function checkArgs(parsed: ParsedArgs, command: CliCommand, global: readonly CliFlag[]): string | undefined {
  const known = (name: string, takesValue: boolean) => [...global, ...command.flags].some((f) => f.name === name && !!f.value === takesValue);
  for (const f of parsed.flags) if (!known(f, false)) return `Unknown option --${f} for this command`;
  for (const v of parsed.values.keys()) if (!known(v, true)) return `Unknown option --${v} for this command`;
  const extra = parsed.positional.slice(command.path.length + (command.args ?? 0));
  if (extra.length) return `Unexpected argument ${JSON.stringify(extra[0])}`;
  return undefined;
}
