/**
 * Table-driven options: the bin's argv parser and the commander front end (the OpenClaw host's)
 * both end in `optionsFor`, so a handler receives the same typed object whichever parsed the
 * command line, and a bad option is refused before any handler runs, naming the option.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { Command } from "commander";
import { CliUsageError, optionsFor, type OptionValues } from "../src/cli/args.js";
import { addCommandsTo } from "../src/cli/commander.js";
import { createCliContext } from "../src/cli/context.js";
import { parseBinArgs } from "../src/cli/main.js";
import { GLOBAL_FLAGS, findCommand, type CliCommand } from "../src/cli/table.js";
import { resolveConfig } from "../src/config/index.js";
import { HOST_FLAGS } from "../src/openclaw/index.js";

const restore = findCommand(["backup", "restore"]) as CliCommand;
const verify = findCommand(["backup", "verify"]) as CliCommand;

/** The options the bin hands the handler for `argv`. */
function binOptions(command: CliCommand, argv: string[]): OptionValues {
  return optionsFor(parseBinArgs([...command.path, ...argv]), command, GLOBAL_FLAGS);
}

/** Runs `argv` through a real commander program with `command`'s table row, recording what its handler gets. */
async function hostRun(command: CliCommand, argv: string[]) {
  const got: { options?: OptionValues; globals?: Record<string, unknown>; codes: number[]; usage: string[] } = { codes: [], usage: [] };
  const program = new Command("openclaw").exitOverride();
  const root = program.command("workspace-sync");
  const spy: CliCommand = {
    ...command,
    async handler(_ctx, options) {
      got.options = options;
      return 0;
    },
  };
  addCommandsTo(
    root,
    {
      globalFlags: HOST_FLAGS,
      context(globals) {
        got.globals = { ...globals };
        const quiet = new PassThrough();
        return createCliContext({ json: globals.json, verbose: globals.verbose, io: { stdout: quiet, stderr: quiet, env: {}, cwd: "/" }, signal: new AbortController().signal, workspaceDir: "/w", stateDir: "/s", config: resolveConfig({}) });
      },
      exit: (code) => got.codes.push(code),
      usageError: (message) => got.usage.push(message),
    },
    [spy],
  );
  await program.parseAsync(["workspace-sync", ...command.path, ...argv], { from: "user" });
  return got;
}

test("both front ends hand the handler the same typed options", async () => {
  const cases: [CliCommand, string[]][] = [
    [restore, ["--snapshot", "backup-20260101T000000Z.tar.gz", "--to", "/tmp/r", "--dry-run", "--symlinks", "skip", "--require-authenticated"]],
    [restore, ["--to=/tmp/r2"]],
    [restore, []],
    [verify, ["--all", "--allow-unauthenticated", "--json"]],
  ];
  for (const [command, argv] of cases) {
    const bin = binOptions(command, argv);
    const host = await hostRun(command, argv);
    assert.deepEqual(host.codes, [0], argv.join(" "));
    assert.deepEqual(host.options, bin, `${command.path.join(" ")} ${argv.join(" ")}`);
  }
  assert.deepEqual(binOptions(restore, ["--dry-run", "--symlinks", "allow"]), {
    snapshot: "latest",
    to: undefined,
    dryRun: true,
    symlinks: "allow",
    requireAuthenticated: false,
    allowUnauthenticated: false,
  });
  const host = await hostRun(verify, ["--json", "-v"]);
  assert.equal(host.globals?.json, true, "global options reach the front end's context, not the handler");
  assert.equal(host.globals?.verbose, true);
  assert.ok(!("json" in (host.options ?? {})), "the handler sees its own options only");
});

test("a value outside an option's choices is a usage error naming the option, in both front ends, before the handler runs", async () => {
  const expected = '--symlinks must be refuse, skip or allow (got "everywhere")';
  assert.throws(() => binOptions(restore, ["--symlinks", "everywhere"]), (err: unknown) => {
    assert.ok(err instanceof CliUsageError);
    assert.equal(err.message, expected);
    assert.equal(err.path, "--symlinks");
    return true;
  });
  const host = await hostRun(restore, ["--symlinks", "everywhere"]);
  assert.equal(host.options, undefined, "the handler did not run");
  assert.deepEqual(host.usage, [expected]);
  assert.deepEqual(host.codes, [2]);
});

test("the bin refuses unknown options, options of another command and extra words, naming them", () => {
  const usage = (command: CliCommand, argv: string[]) => {
    try {
      binOptions(command, argv);
    } catch (err) {
      assert.ok(err instanceof CliUsageError);
      return err.message;
    }
    return "accepted";
  };
  assert.equal(usage(restore, ["--dryrun"]), "Unknown option --dryrun for this command");
  assert.equal(usage(restore, ["--all"]), "Unknown option --all for this command", "verify's --all is not restore's");
  assert.equal(usage(restore, ["--dry-run=yes"]), "--dry-run does not take a value");
  assert.equal(usage(restore, ["--to"]), "--to needs a value");
  assert.equal(usage(restore, ["now"]), 'Unexpected argument "now"');
  assert.equal(usage(restore, ["--json", "-v", "--workspace", "/w"]), "accepted", "the bin's global options are accepted and left to the front end");
});
