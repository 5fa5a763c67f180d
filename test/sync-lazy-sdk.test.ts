/**
 * A local sync never loads the cloud SDKs: the package's entry point and a local-provider sync run
 * leave `@aws-sdk/*` and `dropbox` unloaded (they cost ~20 MiB of RSS and start-up time), and only
 * creating an S3 or Dropbox provider brings them in. A module-resolution hook in the child process
 * reports every module loaded; the control half (creating the S3 and Dropbox providers) proves the
 * hook sees them.
 */
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { runNode } from "./support/run-node.js";
import { tempDir } from "./support/tree.js";

const INDEX = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "src", "index.js");

// The hooks run on a thread of their own: each resolved URL is appended to a log file with a
// synchronous write (stderr from that thread may be lost when the process exits).
const HOOKS = `
import { appendFileSync } from "node:fs";
let log;
export function initialize(data) {
  log = data.log;
}
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(log, "LOADED " + r.url + "\\n");
  return r;
}
`;

const CHILD = `
import { register } from "node:module";
import { appendFileSync } from "node:fs";
const [, , hooks, log, index, ws, state, cloud] = process.argv;
register(hooks, { data: { log } });
const { runSync, createProvider } = await import(index);
const silent = { info() {}, warn() {}, error() {} };
const r = await runSync({ syncConfig: { sync: { mode: "bisync", remotePath: "x", provider: "local", local: { root: cloud } } }, workspaceDir: ws, stateDir: state, logger: silent });
if (!r.ok) throw new Error(r.error);
appendFileSync(log, "PHASE cloud\\n");
await createProvider({ provider: "s3", s3: { bucket: "b", region: "us-east-1", endpoint: "http://127.0.0.1:9", accessKeyId: "a", secretAccessKey: "s" } }, { logger: silent });
await createProvider({ provider: "dropbox", dropbox: { token: "t" } }, { logger: silent });
appendFileSync(log, "PHASE done " + r.uploaded.length + "\\n");
`;

test("a local sync loads neither the AWS SDK nor dropbox; the cloud providers load them on demand", async () => {
  const { dir, cleanup } = await tempDir("ws-lazy-sdk-");
  try {
    const hooks = path.join(dir, "hooks.mjs");
    const child = path.join(dir, "child.mjs");
    await fsp.writeFile(hooks, HOOKS);
    await fsp.writeFile(child, CHILD);
    const ws = path.join(dir, "ws");
    await fsp.mkdir(ws);
    await fsp.writeFile(path.join(ws, "a.txt"), "a");
    const log = path.join(dir, "modules.log");
    await fsp.writeFile(log, "");
    const run = await runNode(child, [pathToFileURL(hooks).href, log, pathToFileURL(INDEX).href, ws, path.join(dir, "state"), path.join(dir, "cloud")]);
    assert.equal(run.code, 0, run.stderr);
    const [before = "", after = ""] = (await fsp.readFile(log, "utf8")).split("PHASE cloud\n");
    assert.match(after, /PHASE done 1/, "the local sync uploaded its one file");
    const sdk = /node_modules\/(@aws-sdk|@smithy|dropbox)\//;
    const early = before.split("\n").filter((l) => l.startsWith("LOADED ") && sdk.test(l));
    assert.deepEqual(early, [], "modules loaded by the import and the local sync");
    assert.ok(before.includes("/src/sync/"), "the hook saw the sync modules load");
    assert.match(after, /node_modules\/@aws-sdk\/client-s3\//, "creating an S3 provider loads the AWS SDK");
    assert.match(after, /node_modules\/dropbox\//, "creating a Dropbox provider loads dropbox");
  } finally {
    await cleanup();
  }
});
