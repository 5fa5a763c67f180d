/** Issue 12 (sync part) against a real S3 server (Ceph RGW): keys such as `share/a` beside `share/a/b` are real objects here. */
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import { silentLogger } from "../src/logger.js";
import { createS3Provider } from "../src/providers/s3/index.js";
import { createTestBucket, rgwFromEnv } from "./support/s3.js";
import { runSyncWithProvider } from "../src/sync/run.js";
import { describeSafetySuite } from "./sync-safety-suite.js";
import { syncSettings } from "./sync-suite.js";

const rgw = rgwFromEnv();
if (!rgw && process.env.CI === "true") throw new Error("RGW missing under CI (WS_S3_ENDPOINT is not set): the S3 sync safety suite cannot run");

describeSafetySuite(
  "S3 (Ceph RGW)",
  async () => {
    const settings = await createTestBucket(rgw!, "ws-safety-");
    const provider = createS3Provider(settings, { logger: silentLogger });
    return { provider, cleanup: () => provider.close?.() ?? Promise.resolve() };
  },
  rgw ? { holdsAnyKey: true } : { skip: "S3 sync tests need Ceph RGW (WS_S3_ENDPOINT): run node scripts/rgw.mjs or scripts/run-tests.mjs" },
);

describe("sync of many files over S3", { skip: rgw ? undefined : "needs Ceph RGW" }, () => {
  it("emits no MaxListenersExceededWarning (every request of every transfer listened on one shared signal)", async () => {
    const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "wsync-s3-listeners-"));
    const provider = createS3Provider(await createTestBucket(rgw!, "ws-listen-"), { logger: silentLogger });
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on("warning", onWarning);
    try {
      const ws = path.join(tmp, "ws");
      await fsp.mkdir(path.join(ws, "up"), { recursive: true });
      for (let i = 0; i < 24; i++) {
        await fsp.writeFile(path.join(ws, "up", `f${i}.txt`), `local ${i}`);
        await provider.write(`share/down/g${i}.txt`, Readable.from([Buffer.from(`cloud ${i}`)]));
      }
      const r = await runSyncWithProvider({ settings: syncSettings({ concurrency: 8 }), provider, workspaceDir: ws, stateDir: path.join(tmp, "state") });
      assert.ok(r.ok && r.uploaded.length === 24 && r.downloaded.length === 24, JSON.stringify(r));
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(warnings.filter((w) => w.name === "MaxListenersExceededWarning").map((w) => w.message), []);
    } finally {
      process.off("warning", onWarning);
      await provider.close?.();
      await fsp.rm(tmp, { recursive: true, force: true });
    }
  });
});
