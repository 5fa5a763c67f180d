/** Shared helpers of the archive tests: temp dirs, tree snapshots, running the GNU tar CLI. */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import zlib from "node:zlib";
import { after, before } from "node:test";
import * as tar from "tar-stream";
import { type ArchiveStreamOptions, createArchiveStream, type WalkResult } from "../src/archive/index.js";

/** A fresh temp dir; remove it with `rmTmp`. */
export function mkTmp(prefix = "ws-archive-"): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function rmTmp(dir: string): Promise<void> {
  // Restored folders may be read-only: make them writable before removing.
  spawnSync("chmod", ["-R", "u+rwX", dir]);
  await fs.rm(dir, { recursive: true, force: true });
}

/** A temp folder for the enclosing `describe`: made before its tests, removed after them. */
export function suiteTmp(): () => string {
  let dir = "";
  before(async () => {
    dir = await mkTmp();
  });
  after(() => rmTmp(dir));
  return () => dir;
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a CLI (GNU tar, gunzip) and returns its exit status and output. */
export function run(cmd: string, args: string[], options: { cwd?: string; input?: Buffer } = {}): RunResult {
  const r = spawnSync(cmd, args, { cwd: options.cwd, input: options.input, maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout?.toString("utf8") ?? "", stderr: r.stderr?.toString("utf8") ?? "" };
}

/** One node of a tree snapshot. */
export interface TreeNode {
  type: "file" | "dir" | "symlink" | "other";
  mode: number;
  mtimeSec: number;
  size?: number;
  sha?: string;
  linkname?: string;
  ino?: number;
}

/** Everything under `root` (not following symlinks), keyed by `/`-separated relative path. */
export async function snapshotTree(root: string, options: { mtimes?: boolean; dirMtimes?: boolean } = {}): Promise<Map<string, TreeNode>> {
  const out = new Map<string, TreeNode>();
  const walk = async (dir: string, rel: string): Promise<void> => {
    const names = (await fs.readdir(dir)).sort();
    for (const n of names) {
      const abs = path.join(dir, n);
      const r = rel ? `${rel}/${n}` : n;
      const st = await fs.lstat(abs);
      const node: TreeNode = { type: "other", mode: st.mode & 0o7777, mtimeSec: Math.floor(st.mtimeMs / 1000), ino: st.ino };
      if (st.isFile()) {
        node.type = "file";
        node.size = st.size;
        node.sha = createHash("sha256").update(await fs.readFile(abs)).digest("hex");
      } else if (st.isDirectory()) {
        node.type = "dir";
      } else if (st.isSymbolicLink()) {
        node.type = "symlink";
        node.linkname = await fs.readlink(abs);
        node.mode = 0;
      }
      out.set(r, node);
      if (st.isDirectory()) await walk(abs, r);
    }
  };
  await walk(root, "");
  for (const node of out.values()) {
    delete node.ino;
    if (options.mtimes === false || (node.type === "dir" && options.dirMtimes === false) || node.type === "symlink") node.mtimeSec = 0;
  }
  return out;
}

/** Plain object form of a snapshot, for deepStrictEqual diffs. */
export function treeObject(tree: Map<string, TreeNode>): Record<string, TreeNode> {
  return Object.fromEntries([...tree.entries()]);
}

/** Packs `walk` into `file` and returns the warnings. */
export async function packToFile(walk: WalkResult, file: string, options: ArchiveStreamOptions = {}): Promise<string[]> {
  const warnings: string[] = [];
  await pipeline(createArchiveStream(walk, { ...options, onWarning: (m) => warnings.push(m) }), createWriteStream(file));
  return warnings;
}

/** A hostile or hand-made entry for {@link makeTarGz}. */
export interface RawEntry {
  header: tar.Header | (Partial<tar.Header> & { name: string });
  content?: string | Buffer;
}

/** Builds a .tar.gz directly with tar-stream's pack (no safety checks), for hostile archives. */
export async function makeTarGz(entries: RawEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const c of pack as AsyncIterable<Buffer>) chunks.push(Buffer.from(c));
  })();
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (e.content !== undefined) pack.entry(e.header, e.content, cb);
      else pack.entry(e.header, cb);
    });
  }
  pack.finalize();
  await collected;
  return zlib.gzipSync(Buffer.concat(chunks));
}

/** A readable over a buffer, in small chunks (exercises the streaming paths). */
export function bufferStream(buf: Buffer, chunk = 64 * 1024): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) parts.push(buf.subarray(i, i + chunk));
  return Readable.from(parts, { objectMode: false });
}

/** Lists a .tar.gz with GNU tar (`tar -tzf`), one name per line as tar prints them. */
export function gnuList(file: string, verbose = false): RunResult {
  return run("tar", [verbose ? "-tvzf" : "-tzf", file]);
}

/**
 * Writes `file`, a .tar.gz made by python3's tarfile (an independent writer, for entry orders and
 * names our packer never makes). `body` is Python run with `add(name, kind="file", link="",
 * data=b"")` (kinds `file`, `dir`, `sym`, `hard`) and `raw(bytes)` (a name from raw bytes) defined,
 * and `t` the open archive (`fmt`: tarfile's GNU_FORMAT, PAX_FORMAT or USTAR_FORMAT).
 */
export function pythonTarGz(file: string, body: string, fmt: "GNU_FORMAT" | "PAX_FORMAT" | "USTAR_FORMAT" = "GNU_FORMAT"): void {
  const script = [
    "import io, os, sys, tarfile",
    `t = tarfile.open(sys.argv[1], "w:gz", format=tarfile.${fmt}, encoding="utf-8", errors="surrogateescape")`,
    "def raw(b): return os.fsdecode(b)",
    "def add(name, kind='file', link='', data=b'', mode=None):",
    "    i = tarfile.TarInfo(name)",
    "    i.type = {'file': tarfile.REGTYPE, 'dir': tarfile.DIRTYPE, 'sym': tarfile.SYMTYPE, 'hard': tarfile.LNKTYPE}[kind]",
    "    i.linkname = link",
    "    i.size = len(data) if kind == 'file' else 0",
    "    i.mode = mode if mode is not None else (0o755 if kind == 'dir' else 0o644)",
    "    i.mtime = 1700000000",
    "    t.addfile(i, io.BytesIO(data) if kind == 'file' else None)",
    body,
    "t.close()",
  ].join("\n");
  const r = spawnSync("python3", ["-c", script, file], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`python3 tarfile failed: ${r.stderr}`);
}
