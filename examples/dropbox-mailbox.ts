/**
 * A Dropbox app-folder mailbox: the workspace is pushed to the app folder (except _inbox/_outbox)
 * and files the user drops into the app folder's _outbox land in the workspace _inbox.
 *
 * Environment: DROPBOX_APP_KEY, DROPBOX_APP_SECRET and DROPBOX_REFRESH_TOKEN (or DROPBOX_TOKEN with the
 * JSON token string rclone stored for the plugin). Run: node build/examples/dropbox-mailbox.js <workspaceDir> <stateDir>
 */
import { runSync, type Logger } from "../src/index.js";

const [workspaceDir = process.cwd(), stateDir = `${process.env.HOME}/.openclaw`] = process.argv.slice(2);
const logger: Logger = { info: console.log, warn: console.warn, error: console.error };

const syncConfig = {
  sync: {
    provider: "dropbox",
    mode: "mailbox",
    // An app-folder token sees only its folder: "" is the app folder's root.
    remotePath: "",
    exclude: ["**/.DS_Store", "**/node_modules/**", "**/.git/**"],
    dropbox: { appFolder: true, appKey: "${DROPBOX_APP_KEY}", appSecret: "${DROPBOX_APP_SECRET}", token: "${DROPBOX_REFRESH_TOKEN}" },
  },
};

const result = await runSync({
  syncConfig,
  workspaceDir,
  stateDir,
  logger,
  onInboxFiles: (_files, text) => console.log(text),
});
if (!result.ok) {
  console.error(`Sync failed (${result.code}): ${result.error}`);
  process.exit(1);
}
console.log(`uploaded ${result.uploaded.length}, deleted ${result.deleted.length}, new in _inbox: ${result.inboxFiles.join(", ") || "none"}`);
