/**
 * Throughput self-check (not part of the test suite; real benchmarks live in bench/): packs a
 * generated tree of text and incompressible files with createArchiveStream and with
 * `tar -cz`, and prints both rates. Run: `node <build>/test/archive-throughput-check.js <MiB>`;
 * without the size argument (e.g. when a test runner picks the file up) it does nothing.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { createArchiveStream, walkSources } from "../src/archive/index.js";

const mib = Number(process.argv[2]);
if (Number.isFinite(mib) && mib > 0) await main(mib);

async function main(mib: number): Promise<void> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "ws-archive-tp-"));
  try {
    const ws = path.join(root, "workspace");
    await fs.mkdir(ws);
    const text = Array.from({ length: 4000 }, (_, i) => `export const value${i} = compute(${i}, "row ${i % 37}");\n`).join("");
    let bytes = 0;
    for (let i = 0; bytes < (mib * 1024 * 1024 * 3) / 4; i++) {
      const dir = path.join(ws, `d${i % 50}`);
      await fs.mkdir(dir, { recursive: true });
      await fs.writeFile(path.join(dir, `f${i}.ts`), text);
      bytes += text.length;
    }
    for (let i = 0; bytes < mib * 1024 * 1024; i++) {
      const blob = randomBytes(4 * 1024 * 1024);
      await fs.writeFile(path.join(ws, `blob${i}.bin`), blob);
      bytes += blob.length;
    }

    const t0 = performance.now();
    const walk = await walkSources([{ item: "workspace", path: ws, archiveName: "workspace" }], { exclude: [] });
    await pipeline(createArchiveStream(walk), createWriteStream(path.join(root, "ours.tar.gz")));
    const ours = (performance.now() - t0) / 1000;

    const t1 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const p = spawn("sh", ["-c", `tar -cz -C "${root}" workspace > "${path.join(root, "gnu.tar.gz")}"`], { stdio: "inherit" });
      p.on("error", reject);
      p.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`tar exited ${String(code)}`))));
    });
    const gnu = (performance.now() - t1) / 1000;
    const mb = walk.totalBytes / 1e6;
    const size = async (f: string): Promise<number> => (await fs.stat(path.join(root, f))).size;
    console.log(`data ${mb.toFixed(1)} MB in ${walk.fileCount} files (load ${os.loadavg()[0]?.toFixed(1)})`);
    console.log(`ours    ${(mb / ours).toFixed(1)} MB/s -> ${await size("ours.tar.gz")} bytes`);
    console.log(`tar -cz ${(mb / gnu).toFixed(1)} MB/s -> ${await size("gnu.tar.gz")} bytes`);
    console.log(`speedup ${(gnu / ours).toFixed(2)}x`);
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}
