/**
 * `npm run demo`: a real backup → list → restore → verify, and a mailbox sync cycle, against the
 * local provider in a temporary folder. No cloud account needed. Prints each step.
 */
import { createHash } from "node:crypto";
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { listBackupSnapshots, runBackup, runRestore, runSync, verifySnapshots, type Logger } from "../src/index.js";

const step = (n: number, text: string) => console.log(`\n[${n}] ${text}`);
const logger: Logger = { info: (m) => console.log(`    ${m}`), warn: (m) => console.log(`    warning: ${m}`), error: (m) => console.log(`    error: ${m}`) };

/** path → "mode size sha256" (or "-> target" for links), for comparing two trees. */
async function fingerprint(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const visit = async (dir: string, rel: string): Promise<void> => {
    for (const name of (await fsp.readdir(dir)).sort()) {
      const full = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await fsp.lstat(full);
      if (st.isSymbolicLink()) out.set(r, `link -> ${await fsp.readlink(full)}`);
      else if (st.isDirectory()) {
        out.set(`${r}/`, `dir ${(st.mode & 0o777).toString(8)}`);
        await visit(full, r);
      } else {
        const sha = createHash("sha256").update(await fsp.readFile(full)).digest("hex").slice(0, 16);
        out.set(r, `${(st.mode & 0o777).toString(8)} ${st.size} ${sha} ${Math.floor(st.mtimeMs / 1000)}`);
      }
    }
  };
  await visit(root, "");
  return out;
}

async function main(): Promise<void> {
  const base = await fsp.mkdtemp(path.join(os.tmpdir(), "workspace-sync-demo-"));
  const workspaceDir = path.join(base, "workspace");
  const stateDir = path.join(base, "state");
  const cloud = path.join(base, "cloud");
  console.log(`workspace-sync demo in ${base}`);

  step(1, "Creating a sample agent workspace and state folder");
  await fsp.mkdir(path.join(workspaceDir, "memory"), { recursive: true });
  await fsp.mkdir(path.join(workspaceDir, "notes", "2026"), { recursive: true });
  await fsp.mkdir(path.join(workspaceDir, "node_modules", "left-pad"), { recursive: true });
  await fsp.mkdir(path.join(stateDir, "cron"), { recursive: true });
  await fsp.writeFile(path.join(workspaceDir, "memory", "MEMORY.md"), "# Memory\n- the user prefers short answers\n");
  await fsp.writeFile(path.join(workspaceDir, "notes", "2026", "plan.md"), "Ship workspace-sync.\n".repeat(200));
  await fsp.writeFile(path.join(workspaceDir, "run.sh"), "#!/bin/sh\necho hello\n", { mode: 0o755 });
  await fsp.writeFile(path.join(workspaceDir, "node_modules", "left-pad", "index.js"), "excluded by default\n");
  await fsp.symlink("notes/2026/plan.md", path.join(workspaceDir, "plan-link.md"));
  await fsp.writeFile(path.join(stateDir, "openclaw.json"), JSON.stringify({ agents: { list: [{ id: "main" }] } }, null, 2));
  await fsp.writeFile(path.join(stateDir, "cron", "jobs.json"), "[]\n");
  console.log(`    workspace: ${workspaceDir}\n    state:     ${stateDir}\n    "cloud":   ${cloud} (local provider)`);

  // Real configs reference an environment variable instead: "passphrase": "${BACKUP_PASSPHRASE}".
  const passphrase = "demo passphrase (not a secret)";
  const syncConfig = {
    sync: { provider: "local", mode: "mailbox", remotePath: "openclaw-share", local: { root: cloud } },
    backup: { enabled: true, provider: "local", local: { root: cloud }, prefix: "backups", encrypt: true, passphrase, retain: { daily: 7 } },
  };

  step(2, "Backup: tar → gzip → AES-256-CBC → local provider (streamed, no temp file)");
  const backup = await runBackup({ syncConfig, workspaceDir, stateDir, logger });
  if (!backup.ok) throw new Error(`backup failed: ${backup.error}`);
  console.log(`    snapshot ${backup.snapshotName}: ${backup.sizeBytes} bytes stored, ${backup.plainBytes} plain bytes, sha256 ${backup.sha256.slice(0, 16)}…`);

  step(3, "List snapshots (newest first)");
  const list = await listBackupSnapshots({ syncConfig, stateDir, logger });
  if (!list.ok) throw new Error(`list failed: ${list.error}`);
  for (const s of list.details) console.log(`    ${s.name}  ${s.size} bytes${s.encrypted ? "  (encrypted)" : ""}`);

  step(4, "Verify the latest snapshot end to end (checksum, decrypt, gzip CRC, tar)");
  const verified = await verifySnapshots({ syncConfig, stateDir, logger, snapshotName: "latest" });
  if (!verified.ok || !verified.snapshots.every((s) => s.ok)) throw new Error(`verify failed: ${JSON.stringify(verified)}`);
  for (const s of verified.snapshots) console.log(`    OK ${s.snapshotName}`);

  step(5, "Restore the latest snapshot into a staging folder (never over live data)");
  const restore = await runRestore({ syncConfig, workspaceDir, stateDir, snapshotName: "latest", logger });
  if (!restore.ok) throw new Error(`restore failed: ${restore.error}`);
  console.log(`    restored to ${restore.restoredTo} (checksum verified: ${restore.verified}, kdf ${restore.kdf ?? "none"})`);

  step(6, "Compare the restored workspace with the source");
  const source = await fingerprint(workspaceDir);
  for (const k of [...source.keys()]) if (k.startsWith("node_modules")) source.delete(k);
  const restored = await fingerprint(path.join(restore.restoredTo, "workspace"));
  const diffs = [...new Set([...source.keys(), ...restored.keys()])].filter((k) => source.get(k) !== restored.get(k));
  if (diffs.length) throw new Error(`restored tree differs: ${diffs.join(", ")}`);
  console.log(`    identical: ${source.size} entries (content, modes, mtimes, symlinks); node_modules excluded as configured`);
  const openclaw = await fsp.readFile(path.join(restore.restoredTo, "openclaw.json"), "utf8");
  console.log(`    openclaw.json and cron/ restored at the archive root too (${openclaw.length} bytes)`);

  step(7, "Interoperability: the snapshot opens with the openssl and tar command lines");
  try {
    const file = path.join(cloud, "backups", backup.snapshotName);
    const listing = execFileSync("sh", ["-c", `openssl enc -d -aes-256-cbc -pbkdf2 -iter 100000 -pass env:PASS -in "$1" | tar -tzf - | head -5`, "sh", file], {
      env: { ...process.env, PASS: passphrase },
    }).toString();
    for (const line of listing.trim().split("\n")) console.log(`    ${line}`);
  } catch {
    console.log("    (openssl or tar not installed here: skipped)");
  }

  step(8, "Sync, mailbox mode: push the workspace, then drain cloud _outbox into _inbox");
  const first = await runSync({ syncConfig, workspaceDir, stateDir, logger });
  if (!first.ok) throw new Error(`sync failed: ${first.error}`);
  console.log(`    uploaded ${first.uploaded.length} file(s): ${first.uploaded.slice(0, 5).join(", ")}${first.uploaded.length > 5 ? ", …" : ""}`);
  await fsp.writeFile(path.join(cloud, "openclaw-share", "_outbox", "report.pdf"), "%PDF-1.4 dropped by the user\n");
  console.log("    the user drops report.pdf into the cloud _outbox");
  const second = await runSync({
    syncConfig,
    workspaceDir,
    stateDir,
    logger,
    onInboxFiles: (_files, text) => console.log(`    notification: ${text}`),
  });
  if (!second.ok) throw new Error(`sync failed: ${second.error}`);
  const inInbox = await fsp.readdir(path.join(workspaceDir, "_inbox"));
  const leftInOutbox = await fsp.readdir(path.join(cloud, "openclaw-share", "_outbox"));
  console.log(`    workspace _inbox now holds: ${inInbox.join(", ")}; cloud _outbox holds ${leftInOutbox.length} file(s)`);
  console.log(`    second run uploaded ${second.uploaded.length} file(s) (nothing changed, nothing re-sent)`);

  await fsp.rm(base, { recursive: true, force: true });
  console.log("\nDemo complete: backup, list, verify, restore and sync all worked. Temporary files removed.");
}

main().catch((err: unknown) => {
  console.error(`Demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
