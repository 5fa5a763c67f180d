#!/usr/bin/env node
// Long restore fuzzing from the compiled build (run `npm run build:all` first):
//
//   node scripts/fuzz.mjs [--iterations 100000] [--seed 1] [--timeout 10000] [--skip-known] [--keep]
//
// --skip-known applies the known-issue filters of the CI test (open archive bugs, see RELIABILITY.md);
// without it those bugs are reported like any other failure. WS_BUILD_DIR overrides build/.
//
// Same mutations and invariants as test/faults-fuzz.test.ts (build/test/support/fault-fuzz.js):
// damaged snapshots must never hang (per-iteration timeout), crash, write outside the target, or
// restore "successfully" into anything but the original tree. Prints progress and the outcome
// counts; exits 1 with the failing iterations (and the seed to replay them) when an invariant broke.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : fallback;
};
const iterations = opt("iterations", 20000);
const seed = opt("seed", Date.now() % 2 ** 31);
const timeoutMs = opt("timeout", 10000);
const keep = args.includes("--keep");
const skipKnown = args.includes("--skip-known");
const buildDir = process.env.WS_BUILD_DIR ? path.resolve(process.env.WS_BUILD_DIR) : path.join(root, "build");

let runFuzz;
let KNOWN_ISSUES;
try {
  ({ runFuzz, KNOWN_ISSUES } = await import(pathToFileURL(path.join(buildDir, "test", "support", "fault-fuzz.js")).href));
} catch (err) {
  console.error(`Cannot load ${path.join(buildDir, "test", "support", "fault-fuzz.js")} (${err.message}): run "npm run build:all" first.`);
  process.exit(2);
}

const workDir = mkdtempSync(path.join(tmpdir(), "ws-fuzz-"));
console.log(`fuzzing ${iterations} restores, seed ${seed}, timeout ${timeoutMs} ms, in ${workDir}`);
process.on("uncaughtException", (err) => {
  console.error(`CRASH (uncaught exception) with seed ${seed}:`, err);
  process.exit(1);
});
const started = Date.now();
const report = await runFuzz({
  workDir,
  iterations,
  seed,
  timeoutMs,
  maxFailures: 20,
  ...(skipKnown ? { knownIssues: KNOWN_ISSUES } : {}),
  progressEvery: 1000,
  onProgress: (done, r) => console.log(`  ${done} done, ${r.failures.length} failure(s), ${((Date.now() - started) / 1000).toFixed(0)} s`),
});
console.log("outcomes:", report.outcomes);
if (Object.keys(report.known).length > 0) console.log("known issues (skipped/tolerated):", report.known);
if (!keep) rmSync(workDir, { recursive: true, force: true });
if (report.failures.length > 0) {
  console.error(`${report.failures.length} invariant failure(s); replay with: node scripts/fuzz.mjs --seed ${seed} --iterations ${report.failures.at(-1).iteration + 1}`);
  for (const f of report.failures) console.error(`  #${f.iteration} ${f.mutation}: ${f.problem}`);
  process.exit(1);
}
console.log(`ok: ${report.iterations} restores of damaged snapshots, no invariant broken (${((Date.now() - started) / 1000).toFixed(1)} s)`);
