/**
 * A child process for the "killed mid-operation" scenarios (test/faults-kill.test.ts). Run as
 * `node fault-child.js '<json ChildJob>'`: it starts a backup, restore or bisync and, once the
 * operation is well under way (`freezeAfterBytes` of progress, or inside the Nth download or upload
 * stream), prints `FROZEN` and blocks its event loop, so the parent can SIGKILL it at exactly that
 * point: temp files open, multipart uploads pending, half of a file written. Without a freeze it
 * runs to the end and prints `DONE <json result>`.
 */
import { Transform, type Readable } from "node:stream";
import { openBackupTarget, runBackup, runRestore } from "../../src/backup/index.js";
import { loadSyncConfig } from "../../src/config/index.js";
import { requireBackupSettings } from "../../src/backup/target.js";
import { createLocalProvider } from "../../src/providers/local/index.js";
import type { StorageProvider } from "../../src/providers/types.js";
import { runSyncWithProvider } from "../../src/sync/run.js";
import type { SyncSettings } from "../../src/config/types.js";

/** What the child should do. */
export type ChildJob =
  | {
      op: "backup";
      syncConfig: Record<string, unknown>;
      workspaceDir: string;
      stateDir: string;
      /** Freeze once this many plain bytes were read from the workspace. */
      freezeAfterBytes?: number;
      /** Freeze once the provider reports this many bytes stored (S3: whole parts uploaded). */
      freezeAfterStoredBytes?: number;
      /** Freeze at the `nth` (default 1) write of a name ending in `suffix`, before it starts (`.mac`: the snapshot is stored, its MAC file not). */
      freezeAtWrite?: { suffix: string; nth?: number };
    }
  | { op: "restore"; syncConfig: Record<string, unknown>; workspaceDir: string; stateDir: string; snapshotName: string; restoreTo?: string; freezeAfterBytes?: number }
  | {
      op: "bisync";
      settings: SyncSettings;
      cloudRoot: string;
      workspaceDir: string;
      stateDir: string;
      /** Freeze inside the Nth download (1-based), after `freezeAfterBytes` of it. */
      freezeInDownload?: number;
      /** Freeze inside the Nth upload (1-based), after `freezeAfterBytes` of it were read. */
      freezeInUpload?: number;
      freezeAfterBytes?: number;
    };

/** Blocks the whole process (event loop included) until it is killed. */
function freeze(): never {
  process.stdout.write("FROZEN\n");
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (;;) Atomics.wait(cell, 0, 0, 60_000);
}

/** Passes bytes through and freezes the process once `after` bytes went by. */
function freezer(after: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > after) {
        // Let the first part through (so half a file is written), then freeze on the next tick.
        this.push(chunk.subarray(0, Math.max(0, chunk.length - (seen - after))));
        setTimeout(freeze, 100);
        return;
      }
      done(null, chunk);
    },
  });
}

function freezingProvider(inner: StorageProvider, job: Extract<ChildJob, { op: "bisync" }>): StorageProvider {
  let reads = 0;
  let writes = 0;
  const after = job.freezeAfterBytes ?? 0;
  return {
    ...inner,
    description: inner.description,
    capabilities: inner.capabilities,
    list: (d, o) => inner.list(d, o),
    async read(p, o) {
      const n = ++reads;
      const s = await inner.read(p, o);
      return n === job.freezeInDownload ? (s.pipe(freezer(after)) as Readable) : s;
    },
    async write(p, source, o) {
      const n = ++writes;
      // The frozen stream is no longer the file itself: without `sourceFile` the provider must read it.
      if (n === job.freezeInUpload) return inner.write(p, source.pipe(freezer(after)) as Readable, { ...o, sourceFile: undefined });
      return inner.write(p, source, o);
    },
  };
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? "{}") as ChildJob;
  const onProgress =
    "freezeAfterBytes" in job && job.freezeAfterBytes !== undefined && job.op !== "bisync"
      ? (p: { bytes: number }) => {
          if (p.bytes >= (job.freezeAfterBytes as number)) freeze();
        }
      : undefined;
  let result: unknown;
  if (job.op === "backup") {
    const storedLimit = job.freezeAfterStoredBytes;
    let provider: StorageProvider | undefined;
    if (job.freezeAtWrite) {
      const { suffix, nth = 1 } = job.freezeAtWrite;
      const { provider: inner } = await openBackupTarget(requireBackupSettings(loadSyncConfig(job.syncConfig, console)), { logger: console, stateDir: job.stateDir });
      let seen = 0;
      provider = {
        ...inner,
        write: (p, source, o) => {
          if (p.endsWith(suffix) && ++seen === nth) freeze();
          return inner.write(p, source, o);
        },
      };
    } else if (storedLimit !== undefined) {
      // The target the backup would open itself, with a write that freezes once enough is stored:
      // reading progress says nothing about how far the upload got.
      const { provider: inner } = await openBackupTarget(requireBackupSettings(loadSyncConfig(job.syncConfig, console)), { logger: console, stateDir: job.stateDir });
      provider = {
        ...inner,
        write: (p, source, o) =>
          inner.write(p, source, {
            ...o,
            onProgress: (n) => {
              o?.onProgress?.(n);
              if (n >= storedLimit) freeze();
            },
          }),
      };
    }
    result = await runBackup({ syncConfig: job.syncConfig, workspaceDir: job.workspaceDir, stateDir: job.stateDir, onProgress, ...(provider ? { provider } : {}) });
  } else if (job.op === "restore") {
    result = await runRestore({
      syncConfig: job.syncConfig,
      workspaceDir: job.workspaceDir,
      stateDir: job.stateDir,
      snapshotName: job.snapshotName,
      ...(job.restoreTo ? { restoreTo: job.restoreTo } : {}),
      onProgress,
    });
  } else {
    const provider = freezingProvider(createLocalProvider({ root: job.cloudRoot }), job);
    result = await runSyncWithProvider({ settings: job.settings, provider, workspaceDir: job.workspaceDir, stateDir: job.stateDir });
  }
  process.stdout.write(`DONE ${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`fault-child failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(2);
});
