/**
 * From a command line to typed options. `parseArgs` splits argv into words, `--flag`, `--key value`
 * and `--key=value` (which options take a value is declared, so `--dry-run restore` is never
 * misread); `optionsFor` turns that neutral shape (which the commander front end builds from
 * commander's parsed options too) into the object a handler receives, refusing what the command
 * does not declare. Pure, no I/O.
 */
import { WorkspaceSyncError } from "../errors.js";

/** One option. Without `value` it is a boolean flag; with it, it takes one value. */
export interface CliFlag {
  /** Long name without dashes, e.g. `"dry-run"`; the handler sees it as `dryRun`. */
  readonly name: string;
  /** One-letter alias without the dash, e.g. `"v"`. */
  readonly short?: string;
  /** Placeholder of the value, e.g. `"NAME|latest"`; absent for boolean flags. */
  readonly value?: string;
  /** The only values it accepts (value options only); anything else is a usage error naming the option. */
  readonly choices?: readonly string[];
  /** The value when the option is not given (value options only); the handler then always gets a string. */
  readonly default?: string;
  /** What it does. A `\n` starts a continuation line in the bin's help (a space elsewhere). */
  readonly help: string;
}

/** `dry-run` → `dryRun`. */
type CamelCase<S extends string> = S extends `${infer Head}-${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S;

/** What one flag becomes in the options object. */
type FlagType<F extends CliFlag> = F extends { readonly choices: readonly (infer C)[] }
  ? C | (F extends { readonly default: string } ? never : undefined)
  : F extends { readonly value: string }
    ? string | (F extends { readonly default: string } ? never : undefined)
    : boolean;

/** The typed options of a flag list: `{ name: "dry-run" }` → `{ dryRun: boolean }`, a value option → `string | undefined`. */
export type OptionsOf<F extends readonly CliFlag[]> = { readonly [K in F[number] as CamelCase<K["name"]>]: FlagType<K> };

/** Options as a handler receives them, before their command's type is known. */
export type OptionValues = Readonly<Record<string, string | boolean | undefined>>;

/** A command line split into words and options, whichever front end parsed it. */
export interface ParsedArgs {
  /** Positional words (the command path and its arguments). */
  positional: string[];
  /** Options with values. */
  values: Map<string, string>;
  /** Boolean flags that were given. */
  flags: Set<string>;
}

/** A command line the command cannot run with; the message names the option or word at fault. */
export class CliUsageError extends WorkspaceSyncError {
  constructor(message: string, option?: string) {
    super("CONFIG_INVALID", message, option ? { path: `--${option}` } : undefined);
    this.name = "CliUsageError";
  }
}

/**
 * Parses `argv` (without node and the script). `valueOptions` lists options that take a value;
 * `shortFlags` maps one-letter flags to their long names.
 * @throws {CliUsageError} for a value option without its value, a value given to a flag, or an unknown short option.
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
        if (value === undefined || (eq === -1 && value.startsWith("--"))) throw new CliUsageError(`--${name} needs a value`, name);
        out.values.set(name, value);
      } else if (eq !== -1) {
        throw new CliUsageError(`--${name} does not take a value`, name);
      } else {
        out.flags.add(name);
      }
    } else if (/^-[a-zA-Z]$/.test(arg) && Object.hasOwn(shortFlags, arg.slice(1))) {
      out.flags.add(shortFlags[arg.slice(1)] as string);
    } else if (arg.startsWith("-") && arg !== "-") {
      throw new CliUsageError(`Unknown option ${arg}`);
    } else {
      out.positional.push(arg);
    }
  }
  return out;
}

/** `dry-run` → `dryRun`, the key a flag has in the options object (and in commander's). */
export function optionKey(name: string): string {
  return name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** The options object of `flags` from parsed options (only those flags; nothing is checked). */
export function optionValues(parsed: Pick<ParsedArgs, "values" | "flags">, flags: readonly CliFlag[]): OptionValues {
  const out: Record<string, string | boolean | undefined> = {};
  for (const f of flags) out[optionKey(f.name)] = f.value ? (parsed.values.get(f.name) ?? f.default) : parsed.flags.has(f.name);
  return out;
}

/** The typed options of a front end's global flags (its `--json`, `--verbose`, `--workspace`, …). */
export function globalOptions<const F extends readonly CliFlag[]>(parsed: Pick<ParsedArgs, "values" | "flags">, flags: F): OptionsOf<F> {
  return optionValues(parsed, flags) as OptionsOf<F>;
}

/**
 * The typed options of a command from parsed options: its own flags, after refusing anything it
 * does not know (so a typo such as `--dryrun` can never run the real, destructive command), extra
 * words after its `path`, and values outside a flag's `choices`. `global` flags are allowed but
 * left out: they belong to the front end.
 * @throws {CliUsageError} naming the option or word at fault.
 */
export function optionsFor(parsed: ParsedArgs, command: { readonly path: readonly string[]; readonly flags: readonly CliFlag[] }, global: readonly CliFlag[] = []): OptionValues {
  const all = [...global, ...command.flags];
  const known = (name: string, takesValue: boolean) => all.some((f) => f.name === name && !!f.value === takesValue);
  for (const f of parsed.flags) if (!known(f, false)) throw new CliUsageError(`Unknown option --${f} for this command`, f);
  for (const v of parsed.values.keys()) if (!known(v, true)) throw new CliUsageError(`Unknown option --${v} for this command`, v);
  const extra = parsed.positional.slice(command.path.length);
  if (extra.length) throw new CliUsageError(`Unexpected argument ${JSON.stringify(extra[0])}`);
  for (const f of all) {
    const v = parsed.values.get(f.name);
    if (f.choices && v !== undefined && !f.choices.includes(v)) {
      throw new CliUsageError(`--${f.name} must be ${orList(f.choices)} (got ${JSON.stringify(v)})`, f.name);
    }
  }
  return optionValues(parsed, command.flags);
}

/** `a, b or c`. */
function orList(words: readonly string[]): string {
  return words.length < 2 ? (words[0] ?? "") : `${words.slice(0, -1).join(", ")} or ${words[words.length - 1]}`;
}
