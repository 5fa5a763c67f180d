/**
 * Restores the newest snapshot into a staging folder, after checking it end to end.
 *
 * Run: node build/examples/restore-latest.js <config.json> <stateDir> [restoreTo]
 * The staging folder must be empty or new; nothing live is overwritten. Move what you need back by hand.
 */
import { loadConfigFile, runRestore, verifySnapshots, type Logger } from "../src/index.js";

const [configFile, stateDir = `${process.env.HOME}/.openclaw`, restoreTo] = process.argv.slice(2);
if (!configFile) {
  console.error("usage: restore-latest <config.json> <stateDir> [restoreTo]");
  process.exit(2);
}
const logger: Logger = { info: console.log, warn: console.warn, error: console.error };
const config = await loadConfigFile(configFile);

const check = await verifySnapshots({ syncConfig: config, stateDir, snapshotName: "latest", logger });
if (!check.ok || !check.snapshots[0]?.ok) {
  console.error(`The latest snapshot failed verification: ${JSON.stringify(check)}`);
  process.exit(1);
}
const result = await runRestore({ syncConfig: config, workspaceDir: process.cwd(), stateDir, snapshotName: "latest", restoreTo, logger });
if (!result.ok) {
  console.error(`Restore failed (${result.code}): ${result.error}`);
  process.exit(1);
}
console.log(`Restored ${result.snapshotName} to ${result.restoredTo} (checksum verified: ${result.verified})`);
