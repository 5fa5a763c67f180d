/**
 * One benchmark operation, run in its own process so its peak RSS can be measured alone
 * (the parent wraps it in `/usr/bin/time -f %M`). Prints one JSON line: `{ ms, ...extra }`.
 */
import { spawn } from "node:child_process";
import { promises as fsp } from "node:fs";
import { subscribe } from "node:diagnostics_channel";
import path from "node:path";
import { Writable } from "node:stream";
import type { StorageProvider } from "../src/index.js";

// The library is loaded by the operations that call it, not at start: `sync-once` and
// `restore-bin` run the bin's code and are measured with the bin's modules alone.
const lib = () => import("../src/index.js");

/**
 * Runs the bin's command `argv` in this process, as `workspace-sync` does (the bin's heap policy
 * included); resolves with what it printed, throws when it fails. The CLI's modules are loaded
 * here only: the other operations' memory is measured without them.
 */
async function runBin(argv: string[]): Promise<string> {
  const { main: cliMain } = await import("../src/cli/main.js");
  let out = "";
  const stdout = new Writable({ write: (chunk: Buffer, _enc, cb) => ((out += chunk.toString()), cb()) });
  const code = await cliMain(argv, { stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() }, new AbortController().signal);
  if (code !== 0) throw new Error(`workspace-sync ${argv.join(" ")} exited ${code}:\n${out}`);
  return out;
}

const [op, ...args] = process.argv.slice(2);
const silent = { info() {}, warn() {}, error: (m: string) => process.stderr.write(`${m}\n`) };
const pass = process.env.BENCH_PASS ?? "bench passphrase";

function s3Settings(bucket: string) {
  return {
    provider: "s3" as const,
    s3: {
      endpoint: process.env.WS_S3_ENDPOINT,
      region: "us-east-1",
      bucket,
      accessKeyId: process.env.WS_S3_ACCESS_KEY_ID,
      secretAccessKey: process.env.WS_S3_SECRET_ACCESS_KEY,
      forcePathStyle: true,
    },
  };
}

function backupConfig(target: Record<string, unknown>) {
  return { backup: { enabled: true, encrypt: true, passphrase: pass, include: ["workspace"], retain: { last: 100 }, ...target } };
}

/** Counts outgoing HTTP requests (S3 and Dropbox API calls) via node's diagnostics channel. */
let httpRequests = 0;
subscribe("http.client.request.start", () => {
  httpRequests++;
});

async function main(): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const done = (extra: Record<string, unknown> = {}) => ({ ms: Math.round(performance.now() - t0), ...extra });
  switch (op) {
    case "backup": {
      const { runBackup } = await lib();
      const [workspace, stateDir, root] = args as [string, string, string];
      const r = await runBackup({ syncConfig: backupConfig({ provider: "local", local: { root } }), workspaceDir: workspace, stateDir, logger: silent, skipPrune: true });
      if (!r.ok) throw new Error(r.error);
      return done({ snapshot: r.snapshotName, stored: r.sizeBytes });
    }
    case "restore": {
      const { runRestore } = await lib();
      const [stateDir, root, target] = args as [string, string, string];
      const r = await runRestore({ syncConfig: backupConfig({ provider: "local", local: { root } }), workspaceDir: stateDir, stateDir, snapshotName: "latest", restoreTo: target, logger: silent });
      if (!r.ok) throw new Error(r.error);
      return done();
    }
    case "restore-bin": {
      // The bin's `backup restore` (with the bin's heap policy for it), as a user's command runs;
      // `restore` is the library call a host makes. Whole process: start-up counts, as for the CLI.
      const [stateDir, root, target] = args as [string, string, string];
      const cfg = path.join(stateDir, "bench-restore-config.json");
      await fsp.writeFile(cfg, JSON.stringify(backupConfig({ provider: "local", local: { root } })));
      await runBin(["--config", cfg, "--workspace", stateDir, "--state-dir", stateDir, "backup", "restore", "--snapshot", "latest", "--to", target]);
      return {}; // no `ms`: the row is the whole process's wall time
    }
    case "backup-s3": {
      const { runBackup } = await lib();
      const [workspace, stateDir, bucket] = args as [string, string, string];
      const cfg = backupConfig({ ...s3Settings(bucket), bucket });
      const r = await runBackup({ syncConfig: cfg, workspaceDir: workspace, stateDir, logger: silent, skipPrune: true });
      if (!r.ok) throw new Error(r.error);
      return done({ stored: r.sizeBytes, requests: httpRequests });
    }
    case "cli-s3": {
      const { createProvider } = await lib();
      // The command-line pipeline's stdout streamed into the same S3 upload code.
      const [workspaceParent, bucket] = args as [string, string];
      const provider = await createProvider(s3Settings(bucket), { logger: silent });
      const child = spawn("sh", ["-c", 'tar -cz -C "$1" workspace | openssl enc -aes-256-cbc -salt -pbkdf2 -iter 100000 -pass env:BENCH_PASS', "sh", workspaceParent], {
        stdio: ["ignore", "pipe", "inherit"],
        env: { ...process.env, BENCH_PASS: pass },
      });
      const exit = new Promise<number>((resolve) => child.on("close", (c) => resolve(c ?? 1)));
      const entry = await provider.write(`cli-${Date.now()}.tar.gz.enc`, child.stdout, { sizeHint: Number(process.env.BENCH_SIZE_HINT ?? 0) || undefined });
      if ((await exit) !== 0) throw new Error("pipeline failed");
      return done({ stored: entry.size });
    }
    case "sync": {
      const { runSync, createProvider } = await lib();
      // A first run (untimed) makes both sides equal; the timed second run must change nothing.
      const [workspace, stateDir, kind, where] = args as [string, string, string, string];
      const sync = {
        mode: "mirror",
        remotePath: "bench",
        ...(kind === "s3" ? s3Settings(where) : { provider: "local", local: { root: where } }),
      };
      const first = await runSync({ syncConfig: { sync }, workspaceDir: workspace, stateDir, logger: silent });
      if (!first.ok) throw new Error(first.error);
      const counted = countCalls(await createProvider(sync as Parameters<typeof createProvider>[0], { logger: silent, stateDir }));
      httpRequests = 0;
      const t1 = performance.now();
      const second = await runSync({ syncConfig: { sync }, workspaceDir: workspace, stateDir, logger: silent, provider: counted.provider } as Parameters<typeof runSync>[0]);
      if (!second.ok) throw new Error(second.error);
      return {
        ms: Math.round(performance.now() - t1),
        firstRunMs: Math.round(t1 - t0),
        transfers: second.uploaded.length + second.downloaded.length + second.deleted.length,
        calls: counted.calls,
        httpRequests,
      };
    }
    case "sync-once": {
      // One sync run in its own process (its whole wall time and peak RSS are the row): a first run
      // when the state folder and the cloud folder are empty, a no-change run after one. It runs
      // the bin's code (`workspace-sync sync --json`, with the bin's heap policy for a sync), as a
      // user's command does; `sync-once-library` runs the library call a host makes.
      // `where`: the local provider's folder, or with `s3` a bucket on the test S3 server.
      const [workspace, stateDir, mode, where, kind] = args as [string, string, string, string, string | undefined];
      const sync = { mode, remotePath: "bench", ...(kind === "s3" ? s3Settings(where) : { provider: "local", local: { root: where } }) };
      const cfg = path.join(stateDir, "bench-config.json");
      await fsp.mkdir(stateDir, { recursive: true });
      await fsp.writeFile(cfg, JSON.stringify({ sync }));
      // The text a user sees (`--json` would add a 100 000-path result to the measured memory).
      const out = await runBin(["sync", "--config", cfg, "--workspace", workspace, "--state-dir", stateDir]);
      const count = (what: string): number => Number(new RegExp(`^\\s*${what}: (\\d+)$`, "m").exec(out)?.[1] ?? Number.NaN);
      return { transfers: count("upload") + count("download") + count("delete") };
    }
    case "sync-once-library": {
      const { runSync } = await lib();
      const [workspace, stateDir, mode, root] = args as [string, string, string, string];
      const sync = { mode, remotePath: "bench", provider: "local", local: { root } };
      const r = await runSync({ syncConfig: { sync }, workspaceDir: workspace, stateDir, logger: silent });
      if (!r.ok) throw new Error(r.error);
      return { transfers: r.uploaded.length + r.downloaded.length + r.deleted.length };
    }
    case "sync-dropbox": {
      const { runSync } = await lib();
      // Mailbox sync of a many-file workspace against the Dropbox wire fake: the cloud already holds
      // the same files, so the first run is a full scan (listing pages + local content hashes) and
      // the second a no-change run on the stored list cursor.
      const [workspace, stateDir] = args as [string, string];
      const { startDropboxFake } = await import("../test/support/dropbox-fake.js");
      const fake = await startDropboxFake();
      try {
        for (const rel of await listFiles(workspace)) {
          const content = await fsp.readFile(`${workspace}/${rel}`);
          fake.put(`/bench/${rel}`, content);
        }
        const sync = { provider: "dropbox", mode: "mailbox", remotePath: "bench", dropbox: { token: fake.issueAccessToken(), fetch: fake.fetch } };
        const snapshot = () => ({ ...fake.calls });
        const diff = (a: Record<string, number>, b: Record<string, number>) =>
          Object.fromEntries(Object.entries(b).filter(([k, v]) => v !== (a[k] ?? 0)).map(([k, v]) => [k, v - (a[k] ?? 0)]));
        let before = snapshot();
        const t1 = performance.now();
        const first = await runSync({ syncConfig: { sync }, workspaceDir: workspace, stateDir, logger: silent });
        if (!first.ok) throw new Error(first.error);
        const firstMs = performance.now() - t1;
        const firstCalls = diff(before, snapshot());
        before = snapshot();
        const t2 = performance.now();
        const second = await runSync({ syncConfig: { sync }, workspaceDir: workspace, stateDir, logger: silent });
        if (!second.ok) throw new Error(second.error);
        return {
          ms: Math.round(performance.now() - t2),
          firstRunMs: Math.round(firstMs),
          firstCalls,
          firstTransfers: first.uploaded.length + first.downloaded.length,
          calls: diff(before, snapshot()),
          transfers: second.uploaded.length + second.downloaded.length + second.deleted.length,
        };
      } finally {
        await fake.close();
      }
    }
    default:
      throw new Error(`unknown op ${op}`);
  }
}

/** Relative paths of all files under `root`. */
async function listFiles(root: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const d of await fsp.readdir(rel ? `${root}/${rel}` : root, { withFileTypes: true })) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) out.push(...(await listFiles(root, r)));
    else if (d.isFile()) out.push(r);
  }
  return out;
}

/** Wraps a provider so every method call is counted (listing pages are counted by the HTTP channel). */
function countCalls(provider: StorageProvider): { provider: StorageProvider; calls: Record<string, number> } {
  const calls: Record<string, number> = {};
  const wrapped = new Proxy(provider, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== "function") return value;
      return (...a: unknown[]) => {
        calls[String(prop)] = (calls[String(prop)] ?? 0) + 1;
        return (value as (...x: unknown[]) => unknown).apply(target, a);
      };
    },
  });
  return { provider: wrapped, calls };
}

main().then(
  async (r) => {
    await fsp.writeFile(process.env.BENCH_RESULT ?? "/dev/stdout", `${JSON.stringify(r)}\n`);
  },
  (err: unknown) => {
    process.stderr.write(`bench op ${op} failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
