/**
 * Embedding workspace-sync in an agent host: one WorkspaceSync instance per agent, scheduled
 * backups and syncs, session hooks, inbox notifications and a clean shutdown.
 *
 * Run: node build/examples/embed-agent.js <workspaceDir> <stateDir> (after `npm run build:all`);
 * it uses a local folder as the "cloud", so it needs no account. Ctrl-C stops it.
 */
import path from "node:path";
import { WorkspaceSync, listInbox, moveFromInbox, type Logger } from "../src/index.js";

const [workspaceDir = process.cwd(), stateDir = path.join(process.cwd(), ".openclaw")] = process.argv.slice(2);

const logger: Logger = {
  info: (m) => console.log(m),
  warn: (m) => console.warn(m),
  error: (m) => console.error(m),
};

const ws = new WorkspaceSync({
  config: {
    sync: { provider: "local", mode: "mailbox", interval: 300, onSessionStart: true, notifyOnInbox: true, local: { root: path.join(stateDir, "cloud") } },
    backup: { enabled: true, provider: "local", local: { root: path.join(stateDir, "backups") }, interval: 86400, encrypt: true, passphrase: "${BACKUP_PASSPHRASE}", retain: { daily: 7, weekly: 4 } },
  },
  workspaceDir,
  stateDir,
  logger,
  // Called after a mailbox drain moved files into _inbox: tell the agent.
  onInboxFiles: async (files, text) => {
    console.log(text);
    const inbox = await listInbox({ workspaceDir });
    console.log(`inbox now has ${inbox.entries.length} entr${inbox.entries.length === 1 ? "y" : "ies"}; moving ${files.join(", ")} to incoming/`);
    await moveFromInbox({ workspaceDir, target: "incoming", files });
  },
});

ws.on("backup:done", ({ result }) => console.log(result.ok ? `backup ${result.snapshotName}` : `backup failed: ${result.error}`));
ws.on("sync:done", ({ result }) => console.log(result.ok ? `sync ok (${result.uploaded.length} up)` : `sync failed: ${result.error}`));

await ws.start();
await ws.onSessionStart();
console.log(JSON.stringify(ws.status(), null, 2));

process.once("SIGINT", () => {
  void ws.stop().then(() => console.log("stopped"));
});
