import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { resolveConfig } from "../src/config/index.js";
import { createLocalProvider } from "../src/providers/local/index.js";
import { runSync } from "../src/sync/index.js";
import { memoryLogger } from "./sync-suite.js";

describe("runSync (config entry point)", () => {
  const dirs: string[] = [];
  const tmp = async (): Promise<{ ws: string; state: string; cloud: string }> => {
    const d = await fsp.mkdtemp(path.join(os.tmpdir(), "wsync-cfg-"));
    dirs.push(d);
    const ws = path.join(d, "ws");
    await fsp.mkdir(ws);
    return { ws, state: path.join(d, "state"), cloud: path.join(d, "cloud") };
  };
  after(async () => {
    for (const d of dirs) await fsp.rm(d, { recursive: true, force: true });
  });

  it("refuses to run without mode, in the plugin's words", async () => {
    const t = await tmp();
    const logger = memoryLogger();
    const r = await runSync({ syncConfig: { sync: { provider: "local", local: { root: t.cloud } } }, workspaceDir: t.ws, stateDir: t.state, logger });
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.code, "CONFIG_INVALID");
    assert.match(!r.ok ? r.error : "", /^"mode" is required in config\. Set "mode": "mailbox"/);
    assert.ok(logger.lines.some((l) => l.startsWith("error [workspace-sync] \"mode\" is required")));
  });

  it("runs from a raw nested config and from a resolved one", async () => {
    const t = await tmp();
    await fsp.writeFile(path.join(t.ws, "a.txt"), "hello");
    const raw = { sync: { provider: "local", mode: "mailbox", local: { root: t.cloud }, remotePath: "share" } };
    const logger = memoryLogger();
    const r = await runSync({ syncConfig: raw, workspaceDir: t.ws, stateDir: t.state, logger });
    assert.ok(r.ok, !r.ok ? r.error : "");
    assert.deepEqual(r.uploaded, ["a.txt"]);
    assert.equal(await fsp.readFile(path.join(t.cloud, "share", "a.txt"), "utf8"), "hello");
    assert.ok(logger.lines.some((l) => l.includes("Mailbox: pushing workspace → local:")));
    assert.ok(logger.lines.includes("info [workspace-sync] Mailbox push completed"));
    assert.ok(logger.lines.includes("info [workspace-sync] Mailbox drain completed"));

    const resolved = resolveConfig(raw);
    const again = await runSync({ syncConfig: resolved, workspaceDir: t.ws, stateDir: t.state });
    assert.ok(again.ok);
    assert.deepEqual(again.uploaded, []);
  });

  it("uses a caller-supplied provider without closing it", async () => {
    const t = await tmp();
    await fsp.writeFile(path.join(t.ws, "b.txt"), "b");
    const provider = createLocalProvider({ root: t.cloud });
    const r = await runSync({
      syncConfig: { sync: { provider: "local", mode: "mirror", local: { root: "/nonexistent-not-used" }, remotePath: "m" } },
      workspaceDir: t.ws,
      stateDir: t.state,
      provider,
    });
    assert.ok(r.ok, !r.ok ? r.error : "");
    assert.equal(await fsp.readFile(path.join(t.cloud, "m", "b.txt"), "utf8"), "b");
  });

  it("reports provider off and absolute localPath as config errors", async () => {
    const t = await tmp();
    const off = await runSync({ syncConfig: { sync: { provider: "off" } }, workspaceDir: t.ws, stateDir: t.state });
    assert.equal(!off.ok && off.code, "CONFIG_INVALID");
    const abs = await runSync({ syncConfig: { sync: { provider: "local", mode: "bisync", local: { root: t.cloud }, localPath: "/etc" } }, workspaceDir: t.ws, stateDir: t.state });
    assert.equal(abs.ok, false);
  });
});
