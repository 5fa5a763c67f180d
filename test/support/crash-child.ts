/**
 * A child process that dies in the middle of a write, leaving the library's own temp files behind
 * exactly as a crash would (test/sync-safety-local.test.ts). Run as `node crash-child.js '<json>'`:
 * - `{ op: "upload", root, stateDir, key }`: the local provider (with `stateDir`) writes `key` from a
 *   stream that never ends;
 * - `{ op: "download", root, stateDir, ws }`: a bisync whose every cloud read never ends.
 * Once bytes are on disk it prints `STUCK`; the parent then SIGKILLs it.
 */
import { PassThrough, type Readable } from "node:stream";
import { createLocalProvider } from "../../src/providers/local/index.js";
import { silentLogger } from "../../src/logger.js";
import { runSyncWithProvider } from "../../src/sync/run.js";
import { syncSettingsForChild } from "./child-settings.js";

type Job = { op: "upload"; root: string; stateDir: string; key: string } | { op: "download"; root: string; stateDir: string; ws: string };

/** A stream that sends one chunk, says STUCK, and never ends. */
function endless(): Readable {
  const s = new PassThrough();
  s.write(Buffer.alloc(64 * 1024, 7), () => setTimeout(() => process.stdout.write("STUCK\n"), 200));
  return s;
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? "{}") as Job;
  const provider = createLocalProvider({ root: job.root }, { logger: silentLogger, stateDir: job.stateDir });
  if (job.op === "upload") {
    await provider.write(job.key, endless());
    return;
  }
  const stuck = { ...provider, read: async () => endless() };
  await runSyncWithProvider({ settings: syncSettingsForChild(), provider: stuck, workspaceDir: job.ws, stateDir: job.stateDir });
}

main().catch((err: unknown) => {
  process.stderr.write(`crash-child failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(2);
});
