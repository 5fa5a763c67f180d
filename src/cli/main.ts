#!/usr/bin/env node
/**
 * The `workspace-sync` command. Exit codes: 0 success, 1 failure (the plugin's), 2 usage error.
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { errorMessage } from "../errors.js";
import { globalOptions, optionsFor, parseArgs, type OptionValues, type ParsedArgs } from "./args.js";
import { cliLocations, configFileLoader, createCliContext, type CliIO } from "./context.js";
import { runCommandHandler } from "./dispatch.js";
import { HELP } from "./help.js";
import { MID_TIER_COMMANDS, SMALL_HEAP_COMMANDS, applyMidTierPolicy, applySmallHeapPolicy } from "../util/heap-policy.js";
import { COMMANDS, GLOBAL_FLAGS, commandKey, findCommand, type CliFlag } from "./table.js";

/** Options that take a value, for the parser (from the table). */
const ALL_FLAGS: readonly CliFlag[] = [...GLOBAL_FLAGS, ...COMMANDS.flatMap((c) => c.flags)];
const VALUE_OPTIONS = new Set(ALL_FLAGS.filter((f) => f.value).map((f) => f.name));
/** One-letter flags, for the parser (from the table). */
const SHORT_FLAGS: Record<string, string> = Object.fromEntries(ALL_FLAGS.filter((f) => f.short).map((f) => [f.short, f.name]));

/** The bin's parse of `argv` (value options and short flags from the table). @throws {CliUsageError} */
export function parseBinArgs(argv: readonly string[]): ParsedArgs {
  return parseArgs(argv, VALUE_OPTIONS, SHORT_FLAGS);
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function main(argv: readonly string[], io: CliIO, signal: AbortSignal): Promise<number> {
  let args;
  try {
    args = parseBinArgs(argv);
  } catch (err) {
    io.stderr.write(`${errorMessage(err)}\n${HELP[""]}\n`);
    return 2;
  }
  const [cmd = "", sub] = args.positional;
  const helpKey = sub && HELP[`${cmd} ${sub}`] ? `${cmd} ${sub}` : cmd;
  if (args.flags.has("help") || cmd === "help" || cmd === "") {
    const text = HELP[cmd === "help" ? (sub ?? "") : helpKey];
    if (text === undefined) {
      io.stderr.write(`Unknown command: ${cmd}\n${HELP[""]}\n`);
      return 2;
    }
    io.stdout.write(`${text}\n`);
    return cmd === "" && !args.flags.has("help") ? 2 : 0;
  }
  // The longest table path the words name: `sync status`, else `sync` (then "status" would be an extra word).
  const command = (sub ? findCommand([cmd, sub]) : undefined) ?? findCommand([cmd]);
  if (!command) {
    io.stderr.write(`Unknown command: ${[cmd, sub].filter(Boolean).join(" ")}\n${HELP[HELP[cmd] ? cmd : ""]}\n`);
    return 2;
  }
  let options: OptionValues;
  try {
    options = optionsFor(args, command, GLOBAL_FLAGS);
  } catch (err) {
    io.stderr.write(`${errorMessage(err)}. See: workspace-sync ${commandKey(command.path)} --help\n`);
    return 2;
  }
  // This process (the bin, not a host running the commander front end) runs one command: its heap
  // and its compilers are ours to set (see util/heap-policy.ts).
  const key = commandKey(command.path);
  if (SMALL_HEAP_COMMANDS.includes(key)) applySmallHeapPolicy();
  if (MID_TIER_COMMANDS.includes(key)) applyMidTierPolicy();
  const globals = globalOptions(args, GLOBAL_FLAGS);
  const where = cliLocations(globals, io);
  const ctx = createCliContext({
    json: globals.json,
    verbose: globals.verbose || command.verbose === true,
    io,
    signal,
    ...where,
    loadConfig: configFileLoader(where.configPath, io),
  });
  return runCommandHandler(command, ctx, options);
}

function isEntryPoint(): boolean {
  try {
    return !!process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // The AWS SDK warns on every run under Node 20 about its future Node 22 requirement; a CLI user
  // can do nothing about it mid-command. (The library itself never touches the environment.)
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  // `workspace-sync backup list | head`: a closed pipe ends the command quietly, not with a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
  const controller = new AbortController();
  let interrupted = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupted++;
    if (interrupted > 1) process.exit(130);
    controller.abort(new Error(`interrupted by ${sig}`));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const io: CliIO = { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
  main(process.argv.slice(2), io, controller.signal).then(
    (code) => {
      process.exitCode = code;
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
    (err) => {
      process.stderr.write(`Error: ${errorMessage(err)}\n`);
      process.exitCode = 1;
    },
  );
}
