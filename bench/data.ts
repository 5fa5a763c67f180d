/**
 * Generates the benchmark workspace: many small compressible text files plus a few large random
 * files, deterministic for a given seed, cached under the OS temp folder between runs.
 */
import { promises as fsp, createWriteStream } from "node:fs";
import path from "node:path";
import { once } from "node:events";

/** Shape of a generated data set. */
export interface DataSpec {
  smallFiles: number;
  /** Average size of a small file in bytes. */
  smallAvgBytes: number;
  largeFiles: number;
  largeBytes: number;
}

/** Deterministic xorshift PRNG. */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

const WORDS =
  "the agent workspace sync backup restore snapshot provider stream cipher gzip tar file folder memory cron session token bucket prefix inbox outbox mirror bisync conflict state lock plan action upload download delete retain daily weekly monthly export import function const return async await if else for while class interface type string number boolean".split(
    " ",
  );

function textBlock(rand: () => number, bytes: number): Buffer {
  const parts: string[] = [];
  let n = 0;
  while (n < bytes) {
    const line = Array.from({ length: 4 + Math.floor(rand() * 10) }, () => WORDS[Math.floor(rand() * WORDS.length)]).join(" ") + ` ${Math.floor(rand() * 100000)}\n`;
    parts.push(line);
    n += line.length;
  }
  return Buffer.from(parts.join("").slice(0, bytes));
}

/** Creates (or reuses) the data set under `dir/workspace`; returns total bytes. */
export async function ensureDataSet(dir: string, spec: DataSpec): Promise<{ workspace: string; bytes: number; files: number }> {
  const marker = path.join(dir, "spec.json");
  const workspace = path.join(dir, "workspace");
  const want = JSON.stringify(spec);
  const have = await fsp.readFile(marker, "utf8").catch(() => "");
  if (have === want) {
    const meta = JSON.parse(await fsp.readFile(path.join(dir, "meta.json"), "utf8")) as { bytes: number; files: number };
    return { workspace, ...meta };
  }
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.mkdir(workspace, { recursive: true });
  const rand = prng(42);
  let bytes = 0;
  // Small files: 100 per folder, sizes spread around the average.
  for (let i = 0; i < spec.smallFiles; i++) {
    const folder = path.join(workspace, "src", `d${String(Math.floor(i / 100)).padStart(4, "0")}`);
    if (i % 100 === 0) await fsp.mkdir(folder, { recursive: true });
    const size = Math.max(64, Math.floor(spec.smallAvgBytes * (0.25 + rand() * 1.5)));
    await fsp.writeFile(path.join(folder, `file${i}.txt`), textBlock(rand, size));
    bytes += size;
  }
  // Large random (incompressible) files, streamed.
  await fsp.mkdir(path.join(workspace, "media"), { recursive: true });
  for (let i = 0; i < spec.largeFiles; i++) {
    const out = createWriteStream(path.join(workspace, "media", `blob${i}.bin`));
    const chunk = Buffer.alloc(1024 * 1024);
    for (let written = 0; written < spec.largeBytes; written += chunk.length) {
      for (let j = 0; j < chunk.length; j += 4) chunk.writeUInt32LE(Math.floor(rand() * 0x100000000), j);
      if (!out.write(chunk)) await once(out, "drain");
    }
    out.end();
    await once(out, "finish");
    bytes += spec.largeBytes;
  }
  const files = spec.smallFiles + spec.largeFiles;
  await fsp.writeFile(path.join(dir, "meta.json"), JSON.stringify({ bytes, files }));
  await fsp.writeFile(marker, want);
  return { workspace, bytes, files };
}

/** Creates (or reuses) a tree of `count` tiny files for sync benchmarks. */
export async function ensureManyFiles(dir: string, count: number): Promise<string> {
  const marker = path.join(dir, `.count-${count}`);
  const ws = path.join(dir, "workspace");
  if (await fsp.stat(marker).then(() => true, () => false)) return ws;
  await fsp.rm(dir, { recursive: true, force: true });
  for (let i = 0; i < count; i++) {
    const folder = path.join(ws, `d${String(Math.floor(i / 200)).padStart(4, "0")}`);
    if (i % 200 === 0) await fsp.mkdir(folder, { recursive: true });
    await fsp.writeFile(path.join(folder, `f${i}.txt`), `file ${i}\n`);
  }
  await fsp.writeFile(marker, "");
  return ws;
}

/** Creates (or reuses) `gib` GiB of random data in 1 GiB files (fast: crypto random bytes). */
export async function ensureBigData(dir: string, gib: number): Promise<{ workspace: string; bytes: number }> {
  const { randomFillSync } = await import("node:crypto");
  const workspace = path.join(dir, "workspace");
  const marker = path.join(dir, `.gib-${gib}`);
  const bytes = gib * 1024 ** 3;
  if (await fsp.stat(marker).then(() => true, () => false)) return { workspace, bytes };
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.mkdir(workspace, { recursive: true });
  const chunk = Buffer.alloc(4 * 1024 * 1024);
  for (let i = 0; i < gib; i++) {
    const out = createWriteStream(path.join(workspace, `part${i}.bin`));
    for (let written = 0; written < 1024 ** 3; written += chunk.length) {
      randomFillSync(chunk);
      if (!out.write(chunk)) await once(out, "drain");
    }
    out.end();
    await once(out, "finish");
  }
  await fsp.writeFile(marker, "");
  return { workspace, bytes };
}
