/**
 * The sync fuzzer (test/support/sync-fuzz.ts) in CI: a bounded number of seeded iterations (and a
 * time budget) over mailbox, mirror with ingest and bisync on the local provider. Replay a failure
 * with WS_SYNC_FUZZ_SEED=<seed> WS_SYNC_FUZZ_ITERATIONS=1; run longer with a larger
 * WS_SYNC_FUZZ_ITERATIONS and WS_SYNC_FUZZ_BUDGET_MS.
 */
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { runSyncFuzz } from "./support/sync-fuzz.js";

const seed = Number(process.env.WS_SYNC_FUZZ_SEED ?? 1200);
const iterations = Number(process.env.WS_SYNC_FUZZ_ITERATIONS ?? 120);
const budgetMs = Number(process.env.WS_SYNC_FUZZ_BUDGET_MS ?? 25_000);

test(`sync fuzz: hostile cloud names and workspace symlinks never write outside or lose a file (seed ${seed}, up to ${iterations} iterations)`, async (t) => {
  const workDir = await fsp.mkdtemp(path.join(os.tmpdir(), "wsync-fuzz-"));
  t.after(() => fsp.rm(workDir, { recursive: true, force: true }));
  const report = await runSyncFuzz({ workDir, seed, iterations, budgetMs });
  t.diagnostic(`iterations ${report.iterations}, outcomes ${JSON.stringify(report.outcomes)}`);
  for (const f of report.failures) {
    t.diagnostic(`FAILED seed ${f.seed} (${f.mode}): ${f.problem}\nreplay: WS_SYNC_FUZZ_SEED=${f.seed} WS_SYNC_FUZZ_ITERATIONS=1 node scripts/run-tests.mjs sync-safety-fuzz\n${f.scenario}`);
  }
  assert.ok(report.iterations >= Math.min(iterations, 20), `only ${report.iterations} iterations ran`);
  assert.deepEqual(
    report.failures.map((f) => `seed ${f.seed} (${f.mode}): ${f.problem}`),
    [],
    `replay with WS_SYNC_FUZZ_SEED=<seed> WS_SYNC_FUZZ_ITERATIONS=1`,
  );
});
