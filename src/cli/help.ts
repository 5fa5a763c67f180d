/** Help texts, one per command. */

const COMMON = `
Common options:
  --config FILE       JSON config (or set WORKSPACE_SYNC_CONFIG). An openclaw.json with
                      plugins.entries["openclaw-workspace-sync"].config works too.
  --workspace DIR     Agent workspace (default: OPENCLAW_WORKSPACE or the current folder)
  --state-dir DIR     State folder (default: OPENCLAW_STATE_DIR or ~/.openclaw)
  --json              Machine-readable output on stdout
  -v, --verbose       Log lines on stderr
  -h, --help          Show help

Exit codes: 0 success, 1 failure, 2 usage error, 3 backup made but incomplete.`;

/** Help text per command path. */
export const HELP: Record<string, string> = {
  "": `workspace-sync: encrypted backups and folder sync for an agent workspace (no rclone needed)

Usage: workspace-sync <command> [options]

Commands:
  backup now                 Create a snapshot now
  backup list                List snapshots, newest first, with the retention rule keeping each
  backup restore             Restore a snapshot into a staging folder
  backup prune [--dry-run]   Apply the retention policy
  backup verify              Check snapshots end to end (checksum, decrypt, gzip, tar)
  backup status              Last backup on this host
  sync [--dry-run]           Run the configured sync mode once (mailbox, mirror or bisync)
  sync status                Last sync on this host
  list                       List files in the cloud folder
  status                     Provider, paths, connectivity and last runs
  config check               Validate the config and print it with secrets masked
  run                        Run scheduled backups and syncs until SIGINT/SIGTERM
${COMMON}`,
  backup: `Usage: workspace-sync backup <now|list|restore|prune|verify|status> [options]
Run "workspace-sync backup <command> --help" for details.
${COMMON}`,
  "backup now": `Usage: workspace-sync backup now [options]
Streams the include set (tar, gzip, AES-256-CBC when backup.encrypt) to the backup provider as
backup-YYYYMMDDTHHMMSSZ.tar.gz[.enc], then applies backup.retain.
${COMMON}`,
  "backup list": `Usage: workspace-sync backup list [options]
Lists snapshots newest first, with the retention rules that keep each one.
${COMMON}`,
  "backup restore": `Usage: workspace-sync backup restore [--snapshot NAME|latest] [--to DIR] [--dry-run] [--symlinks refuse|skip|allow]
                              [--require-authenticated|--allow-unauthenticated] [options]
Restores into a staging folder (default <state-dir>/.backup-restore/<snapshot>) that must be empty
or new; live data is never overwritten. Move what you need back by hand. Symlinks pointing outside
the folder fail the restore by default; --symlinks skip leaves them out, allow recreates them.
The snapshot's MAC is checked before anything is moved into the folder. Snapshots without a MAC
(older ones, the plugin's, tar | openssl) restore with a warning; --require-authenticated (or
backup.requireAuthenticated) refuses them. --allow-unauthenticated restores one even though an
older snapshot is authenticated (normally refused as a possible rollback).
${COMMON}`,
  "backup prune": `Usage: workspace-sync backup prune [--dry-run] [options]
Applies backup.retain (restic's forget semantics). Names that are not snapshots are never deleted.
${COMMON}`,
  "backup verify": `Usage: workspace-sync backup verify [--snapshot NAME|latest|--all] [--require-authenticated|--allow-unauthenticated] [options]
Downloads and checks snapshots without writing anything: MAC (or stored SHA-256), decryption, gzip CRC, tar.
${COMMON}`,
  "backup status": `Usage: workspace-sync backup status [options]
${COMMON}`,
  sync: `Usage: workspace-sync sync [--dry-run] [options]
       workspace-sync sync status
Runs the configured mode once: mailbox (push workspace, drain cloud _outbox into _inbox),
mirror (workspace → cloud, optional ingest) or bisync (two-way, conflicts kept as .conflict).
${COMMON}`,
  "sync status": `Usage: workspace-sync sync status [options]
${COMMON}`,
  list: `Usage: workspace-sync list [options]
Lists the files in the cloud folder (sync.remotePath).
${COMMON}`,
  status: `Usage: workspace-sync status [options]
${COMMON}`,
  config: `Usage: workspace-sync config check [options]
Validates the config (the nested { sync, backup } form or the older flat form), interpolates
\${ENV} variables and prints the resolved config with every secret masked.
${COMMON}`,
  "config check": `Usage: workspace-sync config check [options]
${COMMON}`,
  run: `Usage: workspace-sync run [options]
Runs the backup and sync schedules in the foreground until SIGINT or SIGTERM, then stops cleanly.
${COMMON}`,
};
