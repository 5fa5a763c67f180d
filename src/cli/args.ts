/**
 * A small argv parser: positional words, `--flag`, `--key value` and `--key=value`. Which options
 * take a value is declared, so `--dry-run restore` is never misread. Pure, no I/O.
 */
import { WorkspaceSyncError } from "../errors.js";

/** Parsed command line. */
export interface ParsedArgs {
  /** Positional words (the command path and its arguments). */
  positional: string[];
  /** Options with values. */
  values: Map<string, string>;
  /** Boolean flags that were given. */
  flags: Set<string>;
}

/** Parses `argv` (without node and the script). `valueOptions` lists options that take a value. */
export function parseArgs(argv: readonly string[], valueOptions: ReadonlySet<string>): ParsedArgs {
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
    } else if (arg === "-h") {
      out.flags.add("help");
    } else if (arg === "-v") {
      out.flags.add("verbose");
    } else if (arg.startsWith("-") && arg !== "-") {
      throw new WorkspaceSyncError("CONFIG_INVALID", `Unknown option ${arg}`);
    } else {
      out.positional.push(arg);
    }
  }
  return out;
}

/** Options one command accepts besides the global ones. */
export interface CommandSpec {
  flags?: readonly string[];
  values?: readonly string[];
  /** Positional words after the command path (default 0). */
  args?: number;
}

/**
 * Refuses options the command does not know and extra words, so a typo such as `--dryrun` can
 * never run the real (destructive) command. Returns an error message, or undefined when fine.
 */
export function checkArgs(parsed: ParsedArgs, commandWords: number, spec: CommandSpec, global: { flags: readonly string[]; values: readonly string[] }): string | undefined {
  for (const f of parsed.flags) {
    if (!global.flags.includes(f) && !(spec.flags ?? []).includes(f)) return `Unknown option --${f} for this command`;
  }
  for (const v of parsed.values.keys()) {
    if (!global.values.includes(v) && !(spec.values ?? []).includes(v)) return `Unknown option --${v} for this command`;
  }
  const extra = parsed.positional.slice(commandWords + (spec.args ?? 0));
  if (extra.length) return `Unexpected argument ${JSON.stringify(extra[0])}`;
  return undefined;
}
