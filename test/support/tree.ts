/**
 * Helpers for tests that compare folder trees: a fingerprint of every entry (type, mode, size,
 * content hash, mtime in whole seconds, link target), and small builders for sample trees.
 */
import { createHash } from "node:crypto";
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";

/** Fingerprint of each entry under `root`, keyed by relative path (folders end in `/`). */
export async function treeFingerprint(root: string, options: { mtimes?: boolean; modes?: boolean } = {}): Promise<Map<string, string>> {
  const withMtime = options.mtimes ?? true;
  const withMode = options.modes ?? true;
  const out = new Map<string, string>();
  const visit = async (dir: string, rel: string): Promise<void> => {
    for (const name of (await fsp.readdir(dir)).sort()) {
      const full = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await fsp.lstat(full);
      const mode = withMode ? ` ${(st.mode & 0o7777).toString(8)}` : "";
      if (st.isSymbolicLink()) out.set(r, `link -> ${await fsp.readlink(full)}`);
      else if (st.isDirectory()) {
        out.set(`${r}/`, `dir${mode}`);
        await visit(full, r);
      } else {
        const sha = createHash("sha256").update(await fsp.readFile(full)).digest("hex");
        out.set(r, `file${mode} ${st.size} ${sha}${withMtime ? ` ${Math.floor(st.mtimeMs / 1000)}` : ""}`);
      }
    }
  };
  await visit(root, "");
  return out;
}

/** The fingerprint a restore of `workspaceDir` should reproduce: the default excludes (.git, node_modules) left out. */
export async function expectedWorkspace(workspaceDir: string): Promise<Map<string, string>> {
  const fp = await treeFingerprint(workspaceDir);
  for (const k of [...fp.keys()]) if (k.startsWith(".git") || k.startsWith("node_modules")) fp.delete(k);
  return fp;
}

/** Lists the paths whose fingerprints differ between two maps. */
export function treeDiff(a: Map<string, string>, b: Map<string, string>): string[] {
  return [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k)).map((k) => `${k}: ${a.get(k) ?? "(missing)"} vs ${b.get(k) ?? "(missing)"}`);
}

/** A fresh temp folder, removed by the returned cleanup. */
export async function tempDir(prefix = "ws-test-"): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fsp.rm(dir, { recursive: true, force: true }) };
}

/** Writes files from a `{ "rel/path": content }` map (creating folders). */
export async function writeTree(root: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const full = path.join(root, rel);
    await fsp.mkdir(path.dirname(full), { recursive: true });
    await fsp.writeFile(full, content);
  }
}

/** A sample agent workspace + state folder like the plugin's layout. */
export async function sampleAgent(base: string): Promise<{ workspaceDir: string; stateDir: string }> {
  const workspaceDir = path.join(base, "workspace");
  const stateDir = path.join(base, "state");
  await writeTree(workspaceDir, {
    "memory/MEMORY.md": "# memory\n- likes tea\n",
    "notes/today.md": "note ".repeat(500),
    "notes/ünïcödé name.txt": "unicode\n",
    "deep/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/0123456789012345678901234567890123456789012345678901234567890123456789/file.txt": "long path\n",
    "node_modules/pkg/index.js": "excluded\n",
    ".git/HEAD": "ref: refs/heads/main\n",
  });
  await fsp.writeFile(path.join(workspaceDir, "run.sh"), "#!/bin/sh\necho hi\n", { mode: 0o755 });
  await fsp.chmod(path.join(workspaceDir, "run.sh"), 0o755);
  await fsp.writeFile(path.join(workspaceDir, "secret.txt"), "private\n", { mode: 0o600 });
  await fsp.chmod(path.join(workspaceDir, "secret.txt"), 0o600);
  await fsp.mkdir(path.join(workspaceDir, "empty-dir"));
  await fsp.symlink("notes/today.md", path.join(workspaceDir, "today-link"));
  const past = new Date("2024-05-06T07:08:09Z");
  await fsp.utimes(path.join(workspaceDir, "notes", "today.md"), past, past);
  await writeTree(stateDir, { "openclaw.json": '{"agents":{}}\n', "cron/jobs.json": "[]\n" });
  return { workspaceDir, stateDir };
}
