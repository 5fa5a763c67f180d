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
        if (value === undefined) throw new WorkspaceSyncError("CONFIG_INVALID", `--${name} needs a value`);
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
    } else {
      out.positional.push(arg);
    }
  }
  return out;
}
