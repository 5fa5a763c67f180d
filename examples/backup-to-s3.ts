/**
 * Encrypted backups to S3, Cloudflare R2 or Backblaze B2 (all through the S3 API), then list and prune.
 *
 * Environment: S3_ENDPOINT (unset for AWS; https://<account>.r2.cloudflarestorage.com for R2;
 * https://s3.<region>.backblazeb2.com for B2), S3_BUCKET, S3_KEY, S3_SECRET, BACKUP_PASSPHRASE.
 * Run: node build/examples/backup-to-s3.js <workspaceDir> <stateDir>
 */
import { listBackupSnapshots, runBackup, type Logger } from "../src/index.js";

const [workspaceDir = process.cwd(), stateDir = `${process.env.HOME}/.openclaw`] = process.argv.slice(2);
const logger: Logger = { info: console.log, warn: console.warn, error: console.error };

// `${NAME}` values are read from the environment when the config is resolved; secrets stay out of files.
const syncConfig = {
  backup: {
    enabled: true,
    provider: "s3",
    bucket: "${S3_BUCKET}",
    prefix: "agent1",
    encrypt: true,
    passphrase: "${BACKUP_PASSPHRASE}",
    include: ["workspace", "config", "cron", "memory", "sessions"],
    retain: { daily: 7, weekly: 4, monthly: 12 },
    s3: {
      // R2 needs region "auto" and B2 the region in its host name: both are filled in from the endpoint.
      ...(process.env.S3_ENDPOINT ? { endpoint: process.env.S3_ENDPOINT } : { region: process.env.AWS_REGION ?? "us-east-1" }),
      accessKeyId: "${S3_KEY}",
      secretAccessKey: "${S3_SECRET}",
    },
  },
};

const result = await runBackup({ syncConfig, workspaceDir, stateDir, logger, onProgress: (p) => process.stderr.write(`\r${(p.bytes / 1e6).toFixed(0)} MB`) });
if (!result.ok) {
  console.error(`Backup failed (${result.code}): ${result.error}`);
  process.exit(1);
}
console.log(`\nBackup complete: ${result.snapshotName} (${(result.sizeBytes / 1024 / 1024).toFixed(1)} MB)`);
if (result.prune?.ok) console.log(`Pruned ${result.prune.deleted.length}, kept ${result.prune.keep.length}`);
const list = await listBackupSnapshots({ syncConfig, stateDir, logger });
if (list.ok) console.log(list.snapshots.join("\n"));
