#!/usr/bin/env node
// Runs the compiled test suite with node's built-in runner. When Ceph RGW is installed it starts a
// throwaway single-node S3 server on 127.0.0.1 first (scripts/rgw.mjs) and stops it afterwards; the
// S3 tests read its address from WS_S3_* variables and skip (or fail under CI=true) without it.
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const testDir = path.join(root, "build", "test");
const args = process.argv.slice(2);
const only = args.includes("--faults") ? /^faults-/ : undefined;
const filter = args.find((a) => !a.startsWith("--"));

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) {
      if (name !== "support" && name !== "fixtures") out.push(...findTests(full));
    } else if (name.endsWith(".test.js") && (!only || only.test(name)) && (!filter || name.includes(filter))) {
      out.push(full);
    }
  }
  return out;
}

const files = findTests(testDir);
if (files.length === 0) {
  console.error(`No test files found under ${testDir}: run "npm run build:all" first.`);
  process.exit(1);
}

const env = { ...process.env };
let rgw;
// S3 tests are spread over several files (providers, backup, sync, CLI, faults): one server for all.
if (!env.WS_S3_ENDPOINT) {
  const { rgwInstalled, startRgw } = await import("./rgw.mjs");
  if (rgwInstalled()) {
    process.stderr.write("[tests] starting Ceph RGW (real S3 server) on 127.0.0.1 ...\n");
    rgw = await startRgw();
    env.WS_S3_ENDPOINT = rgw.endpoint;
    env.WS_S3_ACCESS_KEY_ID = rgw.accessKeyId;
    env.WS_S3_SECRET_ACCESS_KEY = rgw.secretAccessKey;
    process.stderr.write(`[tests] RGW ready at ${rgw.endpoint}\n`);
  } else {
    process.stderr.write(
      "[tests] Ceph RGW is not installed: S3 tests will " +
        (env.CI === "true" ? "FAIL (CI=true)" : "be skipped") +
        ". Install it with: apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd ceph-common\n",
    );
  }
}

let stopping = false;
async function stopRgw() {
  if (rgw && !stopping) {
    stopping = true;
    await rgw.stop().catch((err) => process.stderr.write(`[tests] stopping RGW failed: ${err.message}\n`));
  }
}
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, async () => {
    await stopRgw();
    process.exit(130);
  });
}

const child = spawn(process.execPath, ["--test", "--test-concurrency=2", ...files], { stdio: "inherit", env, cwd: root });
const code = await new Promise((resolve) => child.on("close", (c, s) => resolve(c ?? (s ? 1 : 0))));
await stopRgw();
process.exit(code);
