/**
 * When a restore or verify starts its helper thread (src/backup/helper-thread.ts): from 4 MiB
 * stored on ("auto"), always, or never; below 4 MiB, a restore of many small files still creates
 * them on a thread of the extractor's own past the first 256. The thread is counted with the process's `worker` event,
 * and the restored tree must be the same whichever way it ran.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { HELPER_THREAD_MIN_BYTES, type HelperThreadMode } from "../src/backup/index.js";
import { wantsHelperThread } from "../src/backup/helper-thread.js";
import { runBackup, runRestore, verifySnapshots, type ConfigInput } from "../src/index.js";
import { countThreads } from "./support/threads.js";
import { tempDir, treeDiff, treeFingerprint, writeTree } from "./support/tree.js";

type Kind = "small" | "many" | "large";


describe("the helper thread of a restore and a verify", () => {
  let dir = "";
  let cleanup: () => Promise<void> = async () => {};
  const snapshots: Record<Kind, { cfg: ConfigInput; name: string; ws: string }> = {} as never;
  const stateDir = (): string => path.join(dir, "state");

  before(async () => {
    ({ dir, cleanup } = await tempDir("ws-helper-thread-"));
    const many: Record<string, string> = {};
    for (let i = 0; i < 600; i++) many[`d${i % 7}/n${i}.txt`] = `note ${i}\n`;
    const files: Record<Kind, Record<string, string | Buffer>> = {
      small: { "a.txt": "alpha\n".repeat(100), "sub/b.bin": randomBytes(10_000) },
      // Small when stored, but more small files than are worth creating on one thread.
      many,
      // Incompressible, so that the stored snapshot is past the threshold.
      large: { "a.txt": "alpha\n", "sub/big.bin": randomBytes(HELPER_THREAD_MIN_BYTES + 256 * 1024), "sub/c.txt": "c" },
    };
    for (const kind of ["small", "many", "large"] as const) {
      const ws = path.join(dir, `ws-${kind}`);
      await writeTree(ws, files[kind]);
      const cfg = { backup: { enabled: true, provider: "local", local: { root: path.join(dir, `cloud-${kind}`) }, encrypt: true, passphrase: "helper-thread-test", kdfIterations: 1000, include: ["workspace"] } };
      const b = await runBackup({ syncConfig: cfg, workspaceDir: ws, stateDir: stateDir(), skipPrune: true });
      assert.ok(b.ok, b.ok ? "" : b.error);
      snapshots[kind] = { cfg, name: b.snapshotName, ws };
    }
  });
  after(() => cleanup());

  // Threads a restore starts, and a verify (which creates no files).
  const cases: [kind: Kind, mode: HelperThreadMode | undefined, restore: number, verify: number][] = [
    ["small", undefined, 0, 0],
    ["small", "always", 1, 1],
    ["many", undefined, 1, 0],
    ["many", "never", 0, 0],
    ["large", undefined, 1, 1],
    ["large", "never", 0, 0],
  ];
  for (const [kind, mode, threads, verifyThreads] of cases) {
    it(`restore of the ${kind} snapshot, helperThread ${mode ?? "default"}: ${threads} thread(s), the same tree`, async () => {
      const s = snapshots[kind];
      const restoreTo = path.join(dir, `restore-${kind}-${mode ?? "default"}`);
      const r = await countThreads(() =>
        runRestore({ syncConfig: s.cfg, workspaceDir: s.ws, stateDir: stateDir(), snapshotName: s.name, restoreTo, ...(mode ? { helperThread: mode } : {}) }),
      );
      assert.ok(r.value.ok, r.value.ok ? "" : r.value.error);
      assert.equal(r.value.authenticated, true);
      assert.equal(r.threads, threads);
      assert.deepEqual(treeDiff(await treeFingerprint(path.join(restoreTo, path.basename(s.ws))), await treeFingerprint(s.ws)), []);
    });
    it(`verify of the ${kind} snapshot, helperThread ${mode ?? "default"}: ${verifyThreads} thread(s)`, async () => {
      const s = snapshots[kind];
      const r = await countThreads(() => verifySnapshots({ syncConfig: s.cfg, stateDir: stateDir(), snapshotName: "all", ...(mode ? { helperThread: mode } : {}) }));
      assert.ok(r.value.ok);
      assert.equal(r.value.snapshots.length, 1);
      assert.equal(r.value.snapshots[0]?.ok, true);
      assert.equal(r.threads, verifyThreads);
    });
  }

  // A host started with Node options a worker refuses: the threads are started without the
  // process's options (they used to inherit them and die at start, failing the restore).
  for (const mode of ["always", "auto"] as const) {
    it(`restores in a host run as \`node --input-type=module -e\`, helperThread ${mode} (a thread of its own: the helper, or the extractor's file thread)`, async () => {
      const s = snapshots.many;
      const restoreTo = path.join(dir, `restore-eval-${mode}`);
      const indexJs = pathToFileURL(fileURLToPath(new URL("../src/index.js", import.meta.url))).href;
      const params = { syncConfig: s.cfg, workspaceDir: s.ws, stateDir: stateDir(), snapshotName: s.name, restoreTo, helperThread: mode };
      const script = `
        import { runRestore } from ${JSON.stringify(indexJs)};
        let threads = 0;
        process.on("worker", () => threads++);
        const r = await runRestore(${JSON.stringify(params)});
        process.stdout.write(JSON.stringify({ ok: r.ok, error: r.ok ? undefined : r.error, threads }));
      `;
      const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 60_000 });
      assert.equal(child.status, 0, child.stderr);
      const out = JSON.parse(child.stdout) as { ok: boolean; error?: string; threads: number };
      assert.deepEqual(out, { ok: true, threads: 1 });
      assert.deepEqual(treeDiff(await treeFingerprint(path.join(restoreTo, path.basename(s.ws))), await treeFingerprint(s.ws)), []);
    });
  }

  it("a snapshot damaged in storage is refused the same way on either thread", async () => {
    for (const kind of ["small", "large"] as const) {
      const s = snapshots[kind];
      // A copy with one byte flipped in the middle of the ciphertext, beside its MAC file.
      const cloud = path.join(dir, `damaged-${kind}`);
      await fs.mkdir(cloud, { recursive: true });
      const bytes = await fs.readFile(path.join(dir, `cloud-${kind}`, s.name));
      bytes[Math.floor(bytes.length / 2)]! ^= 0x40;
      await fs.writeFile(path.join(cloud, s.name), bytes);
      await fs.copyFile(path.join(dir, `cloud-${kind}`, `${s.name}.mac`), path.join(cloud, `${s.name}.mac`));
      const backup = { ...(s.cfg as { backup: Record<string, unknown> }).backup, local: { root: cloud } };
      const outcomes: string[] = [];
      for (const helperThread of ["always", "never"] as const) {
        const restoreTo = path.join(dir, `damaged-${kind}-${helperThread}`);
        const r = await countThreads(() =>
          runRestore({ syncConfig: { backup }, workspaceDir: s.ws, stateDir: path.join(dir, `state-damaged-${kind}-${helperThread}`), snapshotName: s.name, restoreTo, helperThread }),
        );
        assert.equal(r.threads, helperThread === "always" ? 1 : 0, JSON.stringify(r.value));
        outcomes.push(r.value.ok ? "ok" : `${r.value.code}: ${r.value.error}`);
        // Nothing is left in the target.
        assert.deepEqual(await fs.readdir(restoreTo).catch(() => []), []);
      }
      assert.match(outcomes[0] ?? "", /^SNAPSHOT_TAMPERED: /);
      assert.equal(outcomes[0], outcomes[1]);
    }
  });

  it("decides from the stored size: from the threshold on", () => {
    assert.equal(wantsHelperThread(undefined, HELPER_THREAD_MIN_BYTES - 1), false);
    assert.equal(wantsHelperThread("auto", HELPER_THREAD_MIN_BYTES), true);
    assert.equal(wantsHelperThread("always", 0), true);
    assert.equal(wantsHelperThread("never", 10 * HELPER_THREAD_MIN_BYTES), false);
  });
});
