/**
 * How many cores the process may use (`util/cores.ts`), and that a walk of the local provider
 * starts its thread only where there are two: the affinity mask (`taskset`) and a cgroup's CPU
 * quota, read from a real cgroup where this test may make one.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { availableCores, cgroupCpuLimit } from "../src/util/cores.js";
import { WALK_INLINE_NAMES } from "../src/providers/local/walk.js";
import { tempDir } from "./support/tree.js";

/** A reader over an in-memory file tree. */
const files = (tree: Record<string, string>) => (file: string): string | undefined => tree[file];

const V2_MOUNT = "29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
const V1_MOUNTS = [
  "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct",
  "33 30 0:30 / /sys/fs/cgroup/memory rw,relatime shared:11 - cgroup cgroup rw,memory",
].join("\n");

test("a cgroup v2 quota is read at the process's cgroup and above it, the smallest kept, rounded down", () => {
  const groups = "0::/user.slice/app.scope\n";
  assert.equal(cgroupCpuLimit(files({ "/proc/self/cgroup": groups, "/proc/self/mountinfo": V2_MOUNT })), undefined, "no cpu.max anywhere: no limit");
  const tree = {
    "/proc/self/cgroup": groups,
    "/proc/self/mountinfo": V2_MOUNT,
    "/sys/fs/cgroup/user.slice/app.scope/cpu.max": "max 100000\n",
    "/sys/fs/cgroup/user.slice/cpu.max": "250000 100000\n",
  };
  assert.equal(cgroupCpuLimit(files(tree)), 2, "2.5 cores above the process's own cgroup: 2");
  assert.equal(cgroupCpuLimit(files({ ...tree, "/sys/fs/cgroup/user.slice/app.scope/cpu.max": "50000 100000\n" })), 1, "half a core: 1, never 0");
  assert.equal(cgroupCpuLimit(files({ ...tree, "/sys/fs/cgroup/user.slice/cpu.max": "max 100000\n" })), undefined);
  assert.equal(cgroupCpuLimit(files({ ...tree, "/sys/fs/cgroup/user.slice/cpu.max": "banana\n" })), undefined, "what cannot be read limits nothing");
  // In a container's own cgroup namespace, its cgroup is the mount's root.
  assert.equal(cgroupCpuLimit(files({ "/proc/self/cgroup": "0::/\n", "/proc/self/mountinfo": V2_MOUNT, "/sys/fs/cgroup/cpu.max": "100000 100000\n" })), 1);
});

test("a cgroup v1 quota is read where the cpu controller is mounted, a container's mount root included", () => {
  const host = { "/proc/self/cgroup": "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n", "/proc/self/mountinfo": V1_MOUNTS };
  assert.equal(cgroupCpuLimit(files(host)), undefined);
  const quota = { "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "150000\n", "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n" };
  assert.equal(cgroupCpuLimit(files({ ...host, ...quota })), 1);
  assert.equal(cgroupCpuLimit(files({ ...host, "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "-1\n", "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n" })), undefined, "-1: no limit");
  // The memory controller's files are not a CPU quota.
  assert.equal(cgroupCpuLimit(files({ ...host, "/sys/fs/cgroup/memory/docker/abc/cpu.cfs_quota_us": "100000\n", "/sys/fs/cgroup/memory/docker/abc/cpu.cfs_period_us": "100000\n" })), undefined);
  // Inside the container, the mount's root is the container's cgroup: its files are at the mount point.
  const inside = {
    "/proc/self/cgroup": "3:cpu,cpuacct:/docker/abc\n",
    "/proc/self/mountinfo": "31 30 0:28 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid - cgroup cgroup rw,cpu,cpuacct",
    "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "300000\n",
    "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
  };
  assert.equal(cgroupCpuLimit(files(inside)), 3);
  assert.equal(cgroupCpuLimit(files({ "/proc/self/mountinfo": V1_MOUNTS })), undefined, "nothing to read: no limit");
});

test("a cgroup mount that does not show the process's cgroup is not read, and nothing outside a mount is", () => {
  const quota = (dir: string, q: string): Record<string, string> => ({ [`${dir}/cpu.cfs_quota_us`]: q, [`${dir}/cpu.cfs_period_us`]: "100000" });
  // Another mount of the hierarchy, rooted at a cgroup the process is not in (a kubelet's view).
  const other = "40 30 0:28 /kubepods/pod1 /var/lib/kubelet/pods/x/cg rw - cgroup cgroup rw,cpu";
  assert.equal(cgroupCpuLimit(files({ "/proc/self/cgroup": "1:cpu:/user.slice\n", "/proc/self/mountinfo": other, ...quota("/var/lib/kubelet/pods/x/cg", "50000") })), undefined);
  // A root that is only a prefix of the process's cgroup's name.
  const prefix = "40 30 0:28 /docker/abc /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu";
  assert.equal(cgroupCpuLimit(files({ "/proc/self/cgroup": "1:cpu:/docker/abcdef\n", "/proc/self/mountinfo": prefix, ...quota("/sys/fs/cgroup/cpu/def", "100000"), ...quota("/sys/fs/cgroup/cpu", "100000") })), undefined);
  // A cgroup namespace entered without joining its cgroup: the path climbs out of the mount.
  assert.equal(cgroupCpuLimit(files({ "/proc/self/cgroup": "0::/../sib\n", "/proc/self/mountinfo": V2_MOUNT, "/sys/fs/sib/cpu.max": "100000 100000", "/sys/fs/cgroup/cpu.max": "100000 100000" })), undefined);
  // A v2 mount rooted at the container's cgroup, a space in the mount point (escaped in mountinfo).
  const spaced = "29 23 0:26 /docker/abc /sys/fs/my\\040cg rw - cgroup2 cgroup2 rw";
  assert.equal(cgroupCpuLimit(files({ "/proc/self/cgroup": "0::/docker/abc/sub\n", "/proc/self/mountinfo": spaced, "/sys/fs/my cg/sub/cpu.max": "200000 100000", "/sys/fs/my cg/cpu.max": "300000 100000" })), 2);
});

const providerJs = pathToFileURL(fileURLToPath(new URL("../src/providers/local/index.js", import.meta.url))).href;
const coresJs = pathToFileURL(fileURLToPath(new URL("../src/util/cores.js", import.meta.url))).href;

/** A child that lists `root` through the local provider: the cores it may use, the threads it started and the files it listed. */
async function listInChild(root: string, prefix: string[]): Promise<{ cores: number; threads: number; files: number }> {
  const script = `
    import { createLocalProvider } from ${JSON.stringify(providerJs)};
    import { availableCores } from ${JSON.stringify(coresJs)};
    let threads = 0;
    process.on("worker", () => threads++);
    let files = 0;
    for await (const _ of createLocalProvider({ root: ${JSON.stringify(root)} }).list("")) files++;
    process.stdout.write(JSON.stringify({ cores: availableCores(), threads, files }));
  `;
  const [cmd, ...args] = [...prefix, process.execPath, "--input-type=module", "-e", script];
  const p = spawn(cmd!, args, { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  p.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const [code] = (await once(p, "exit")) as [number | null];
  assert.equal(code, 0, out);
  return JSON.parse(out) as { cores: number; threads: number; files: number };
}

/** A folder of more files than a walk looks at before it moves to its thread. */
async function largeFolder(): Promise<{ root: string; count: number; cleanup: () => Promise<void> }> {
  const { dir, cleanup } = await tempDir("ws-cores-");
  const count = Math.ceil(WALK_INLINE_NAMES / 1000 + 1) * 1000;
  for (let d = 0; d < count / 1000; d++) {
    await fsp.mkdir(path.join(dir, `d${d}`));
    for (let i = 0; i < 1000; i += 250) await Promise.all(Array.from({ length: 250 }, (_, j) => fsp.writeFile(path.join(dir, `d${d}`, `f${i + j}`), "")));
  }
  return { root: dir, count, cleanup };
}

const taskset = spawnSync("taskset", ["-c", "0", "true"]).status === 0;

/** The CPUs this process may run on (`Cpus_allowed_list`), as `taskset -c` takes them: `0-1,4`. */
async function allowedCpus(): Promise<number[]> {
  const status = await fsp.readFile("/proc/self/status", "utf8");
  const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1] ?? "0";
  return list.split(",").flatMap((r) => {
    const [a, b = a] = r.split("-").map(Number) as [number, number?];
    return Array.from({ length: b! - a + 1 }, (_, i) => a + i);
  });
}

test("a walk pinned to one core lists on the calling thread; with two it moves to its thread", { timeout: 120_000, skip: taskset ? false : "taskset (util-linux) is not installed: apt-get install -y util-linux" }, async (t) => {
  const { root, count, cleanup } = await largeFolder();
  t.after(cleanup);
  const cpus = await allowedCpus();
  assert.deepEqual(await listInChild(root, ["taskset", "-c", String(cpus[0])]), { cores: 1, threads: 0, files: count });
  if (cpus.length >= 2 && availableCores() >= 2) assert.deepEqual(await listInChild(root, ["taskset", "-c", cpus.slice(0, 2).join(",")]), { cores: 2, threads: 1, files: count });
});

/** A cgroup v1 `cpu` folder this process may make (root, a writable v1 cpu hierarchy), or why not. */
async function cpuCgroupParent(): Promise<string | { skip: string }> {
  if (process.getuid?.() !== 0) return { skip: "making a cgroup needs root" };
  const mounts = await fsp.readFile("/proc/self/mountinfo", "utf8").catch(() => "");
  for (const line of mounts.split("\n")) {
    const [before, after] = line.split(" - ");
    const [fstype, , options = ""] = (after ?? "").split(" ");
    if (fstype === "cgroup" && options.split(",").includes("cpu")) {
      const at = before!.split(" ")[4]!;
      try {
        await fsp.access(path.join(at, "cgroup.procs"), 2 /* W_OK */);
      } catch {
        return { skip: `the cgroup v1 cpu hierarchy at ${at} is not writable here` };
      }
      try {
        await fsp.access(path.join(at, "cpu.cfs_quota_us"));
      } catch {
        return { skip: "this kernel has no CPU bandwidth control (no cpu.cfs_quota_us)" };
      }
      // Left by a run of this test that was killed (an empty cgroup can be removed; a busy one stays).
      for (const name of await fsp.readdir(at)) if (name.startsWith("ws-cores-")) await fsp.rmdir(path.join(at, name)).catch(() => undefined);
      return at;
    }
  }
  return { skip: "no cgroup v1 cpu hierarchy is mounted (a cgroup v2 quota is covered by the parsing test)" };
}

test("a cgroup with a one-core quota: the walk lists on the calling thread", { timeout: 120_000 }, async (t) => {
  const parent = await cpuCgroupParent();
  if (typeof parent !== "string") return t.skip(parent.skip);
  const { root, count, cleanup } = await largeFolder();
  t.after(cleanup);
  const group = path.join(parent, `ws-cores-${process.pid}`);
  await fsp.mkdir(group);
  t.after(() => fsp.rmdir(group));
  await fsp.writeFile(path.join(group, "cpu.cfs_period_us"), "100000");
  await fsp.writeFile(path.join(group, "cpu.cfs_quota_us"), "100000");
  // The shell joins the cgroup, then becomes the child.
  assert.deepEqual(await listInChild(root, ["sh", "-c", `echo $$ > ${group}/cgroup.procs && exec "$0" "$@"`]), { cores: 1, threads: 0, files: count });
  if (availableCores() >= 2) {
    await fsp.writeFile(path.join(group, "cpu.cfs_quota_us"), "200000");
    assert.deepEqual(await listInChild(root, ["sh", "-c", `echo $$ > ${group}/cgroup.procs && exec "$0" "$@"`]), { cores: 2, threads: 1, files: count });
  }
});
