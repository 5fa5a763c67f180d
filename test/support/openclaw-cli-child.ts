/**
 * `openclaw workspace-sync …` as the host runs it, for tests: a commander program (the library
 * the host uses), the plugin loaded into the fake host, its CLI registrar called with the
 * program, then argv parsed. Arguments: <manifest path> <plugin config JSON> <workspace> <state dir> <argv…>.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import pluginEntry from "../../src/openclaw/index.js";
import { createFakeHost, type FakeManifest } from "./fake-openclaw.js";

const [manifestPath, configJson, workspaceDir, stateDir, ...argv] = process.argv.slice(2) as [string, string, string, string, ...string[]];
const host = createFakeHost({ manifest: JSON.parse(readFileSync(manifestPath, "utf8")) as FakeManifest, pluginConfig: JSON.parse(configJson) as Record<string, unknown>, stateDir });
host.load(pluginEntry);
host.assertClean();
const program = new Command("openclaw").exitOverride();
for (const c of host.cli) await c.registrar({ program, config: host.api.config, workspaceDir, logger: host.api.logger });
try {
  await program.parseAsync(argv, { from: "user" });
} catch (err) {
  if (!(err instanceof CommanderError)) throw err;
  process.exitCode = err.exitCode === 0 ? 0 : 2;
}
