/** Help texts of the `workspace-sync` bin, built from the command table. */
import { COMMANDS, GLOBAL_FLAGS, GROUPS, childCommands, commandKey, type CliCommand, type CliFlag, type CliGroup } from "./table.js";

/** The bin's name in usage lines. */
export const PROGRAM = "workspace-sync";

/** `-v, --verbose` / `--config FILE`. */
export function flagLabel(flag: CliFlag): string {
  return `${flag.short ? `-${flag.short}, ` : ""}--${flag.name}${flag.value ? ` ${flag.value}` : ""}`;
}

/** Two columns: labels padded to `width`, continuation lines of a text indented under it. */
function columns(rows: readonly (readonly [string, string])[], width: number): string {
  return rows.map(([label, text]) => `  ${label.padEnd(width)}${text.split("\n").join(`\n  ${" ".repeat(width)}`)}`).join("\n");
}

const COMMON = `
Common options:
${columns(GLOBAL_FLAGS.map((f) => [flagLabel(f), f.help] as const), 20)}

Exit codes: 0 success, 1 failure, 2 usage error, 3 backup made but incomplete.`;

function usageLine(c: CliCommand): string {
  return `${PROGRAM} ${commandKey(c.path)}${c.usage ? ` ${c.usage}` : ""} [options]`;
}

function commandHelp(c: CliCommand): string {
  // A command with commands below it (`sync` → `sync status`) names them in its usage too.
  const more = childCommands(c.path).map((child) => `\n       ${PROGRAM} ${commandKey(child.path)}`);
  return `Usage: ${usageLine(c)}${more.join("")}\n${c.help ? `${c.help}\n` : ""}${COMMON}`;
}

function groupHelp(g: CliGroup): string {
  const children = childCommands(g.path);
  const usage =
    children.length === 1 ? usageLine(children[0] as CliCommand) : `${PROGRAM} ${commandKey(g.path)} <${children.map((c) => c.path[c.path.length - 1]).join("|")}> [options]`;
  return `Usage: ${usage}\n${g.help ? `${g.help}\n` : ""}${COMMON}`;
}

function rootHelp(): string {
  const rows = COMMANDS.map((c) => [`${commandKey(c.path)}${c.listUsage ? ` ${c.listUsage}` : ""}`, c.summary] as const);
  return `${PROGRAM}: encrypted backups and folder sync for an agent workspace (no rclone needed)

Usage: ${PROGRAM} <command> [options]

Commands:
${columns(rows, 27)}
${COMMON}`;
}

/** Help text per command path (`""` for the overview, `"backup"` for a group, `"backup now"`). */
export const HELP: Readonly<Record<string, string>> = Object.freeze({
  "": rootHelp(),
  ...Object.fromEntries(GROUPS.map((g) => [commandKey(g.path), groupHelp(g)])),
  ...Object.fromEntries(COMMANDS.map((c) => [commandKey(c.path), commandHelp(c)])),
});
