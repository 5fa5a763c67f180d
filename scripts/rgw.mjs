// Starts and stops a throwaway Ceph RADOS Gateway (a real S3 server) for the S3 tests.
// Plain ESM, no build step: scripts/run-tests.mjs imports it before compiling anything runs.
//
//   import { startRgw, rgwInstalled } from "./rgw.mjs";
//   const rgw = await startRgw();   // { endpoint, accessKeyId, secretAccessKey, stop }
//   ...; await rgw.stop();
//
// Run directly (`node scripts/rgw.mjs`) it starts one, prints the env lines for the tests and
// stays up until Ctrl-C.
import { spawn, spawnSync } from "node:child_process";
import { accessSync, constants, mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const START = join(here, "start-rgw.sh");
const STOP = join(here, "stop-rgw.sh");
const BINARIES = ["radosgw", "radosgw-admin", "ceph-mon", "ceph-osd", "ceph", "ceph-authtool", "monmaptool", "curl"];

/** True when every binary start-rgw.sh needs is on PATH. */
export function rgwInstalled() {
  const dirs = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  return BINARIES.every((bin) =>
    dirs.some((dir) => {
      try {
        accessSync(join(dir, bin), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    }),
  );
}

/** A port nobody listens on right now (the kernel's pick for port 0). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function run(script, env) {
  return new Promise((resolve) => {
    const child = spawn("bash", [script], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("close", (code) => resolve({ code, output }));
    child.on("error", (err) => resolve({ code: -1, output: String(err) }));
  });
}

/**
 * Starts mon + memstore OSD + radosgw on two free 127.0.0.1 ports, state under a fresh dir in
 * os.tmpdir(). Retries once with new ports (another process may grab a port between the check and
 * the bind). `stop()` kills exactly these daemons and removes the dir; it also runs at process exit
 * if the caller forgets.
 *
 * @param {{ accessKeyId?: string, secretAccessKey?: string }} [options]
 * @returns {Promise<{ endpoint: string, accessKeyId: string, secretAccessKey: string, stop: () => Promise<void> }>}
 */
export async function startRgw(options = {}) {
  if (!rgwInstalled()) {
    throw new Error(
      "Ceph RGW is not installed: apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd ceph-common curl",
    );
  }
  const accessKeyId = options.accessKeyId ?? "testaccesskey";
  const secretAccessKey = options.secretAccessKey ?? "testsecretkey";
  let lastOutput = "";
  for (let attempt = 1; attempt <= 2; attempt++) {
    const cephDir = mkdtempSync(join(tmpdir(), "ws-rgw-"));
    const rgwPort = await freePort();
    let monPort = await freePort();
    while (monPort === rgwPort) monPort = await freePort();
    const env = {
      CEPH_DIR: cephDir,
      RGW_PORT: String(rgwPort),
      MON_PORT: String(monPort),
      RGW_AK: accessKeyId,
      RGW_SK: secretAccessKey,
    };
    const started = await run(START, env);
    if (started.code !== 0) {
      lastOutput = started.output;
      await run(STOP, { CEPH_DIR: cephDir });
      continue;
    }
    let stopped = false;
    const stopAtExit = () => {
      if (!stopped) spawnSync("bash", [STOP], { env: { ...process.env, CEPH_DIR: cephDir }, stdio: "ignore" });
    };
    process.once("exit", stopAtExit);
    return {
      endpoint: `http://127.0.0.1:${rgwPort}`,
      accessKeyId,
      secretAccessKey,
      async stop() {
        if (stopped) return;
        stopped = true;
        process.removeListener("exit", stopAtExit);
        await run(STOP, { CEPH_DIR: cephDir });
      },
    };
  }
  throw new Error(`Ceph RGW did not start:\n${lastOutput.trim().split("\n").slice(-20).join("\n")}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rgw = await startRgw();
  console.log(`export WS_S3_ENDPOINT=${rgw.endpoint}`);
  console.log(`export WS_S3_ACCESS_KEY_ID=${rgw.accessKeyId}`);
  console.log(`export WS_S3_SECRET_ACCESS_KEY=${rgw.secretAccessKey}`);
  console.log("# RGW running; Ctrl-C (or SIGTERM) stops it");
  const shutdown = () => rgw.stop().then(() => process.exit(0));
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
  setInterval(() => {}, 1 << 30);
}
