#!/usr/bin/env node
/**
 * The `workspace-sync` command. Exit codes: 0 success, 1 failure (the plugin's), 2 usage error.
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { errorMessage, toWorkspaceSyncError } from "../errors.js";
import { checkArgs, parseArgs, type CommandSpec } from "./args.js";
import { createCliContext, type CliIO } from "./context.js";
import { HELP } from "./help.js";
import { backupCommand } from "./commands/backup.js";
import { syncCommand, syncStatusCommand, listCommand } from "./commands/sync.js";
import { statusCommand } from "./commands/status.js";
import { configCheckCommand } from "./commands/config.js";
import { runCommand } from "./commands/run.js";

const GLOBAL = { flags: ["json", "verbose", "help"], values: ["config", "workspace", "state-dir"] } as const;

/** Every command and the options it accepts besides the global ones. */
const COMMANDS: Record<string, CommandSpec> = {
  "backup now": {},
  "backup list": {},
  "backup restore": { flags: ["dry-run", "require-authenticated", "allow-unauthenticated"], values: ["snapshot", "to", "symlinks"] },
  "backup prune": { flags: ["dry-run"] },
  "backup verify": { flags: ["all", "require-authenticated", "allow-unauthenticated"], values: ["snapshot"] },
  "backup status": {},
  sync: { flags: ["dry-run"] },
  "sync status": {},
  list: {},
  status: {},
  "config check": {},
  run: {},
};

const VALUE_OPTIONS = new Set([...GLOBAL.values, ...Object.values(COMMANDS).flatMap((c) => c.values ?? [])]);

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function main(argv: readonly string[], io: CliIO, signal: AbortSignal): Promise<number> {
  let args;
  try {
    args = parseArgs(argv, VALUE_OPTIONS);
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
  // The daemon's log lines are its output.
  if (cmd === "run") args.flags.add("verbose");
  const key = sub && COMMANDS[`${cmd} ${sub}`] ? `${cmd} ${sub}` : cmd;
  const spec = COMMANDS[key];
  if (!spec) {
    io.stderr.write(`Unknown command: ${[cmd, sub].filter(Boolean).join(" ")}\n${HELP[HELP[cmd] ? cmd : ""]}\n`);
    return 2;
  }
  const usage = checkArgs(args, key.split(" ").length, spec, GLOBAL);
  if (usage) {
    io.stderr.write(`${usage}. See: workspace-sync ${key} --help\n`);
    return 2;
  }
  const ctx = createCliContext(args, io, signal);
  try {
    switch (cmd) {
      case "backup":
        return await backupCommand(ctx, sub);
      case "sync":
        return sub === "status" ? await syncStatusCommand(ctx) : await syncCommand(ctx);
      case "list":
        return await listCommand(ctx);
      case "status":
        return await statusCommand(ctx);
      case "config":
        if (sub !== "check") break;
        return await configCheckCommand(ctx);
      case "run":
        return await runCommand(ctx);
    }
    io.stderr.write(`Unknown command: ${[cmd, sub].filter(Boolean).join(" ")}\n${HELP[""]}\n`);
    return 2;
  } catch (err) {
    const e = toWorkspaceSyncError(err);
    ctx.printJson({ ok: false, error: e.message, code: e.code });
    io.stderr.write(`Error: ${e.message}\n`);
    return 1;
  }
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
