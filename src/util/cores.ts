/**
 * How many cores this process may use at once: whether a helper thread pays depends on it. In a
 * container limited to one CPU (`docker run --cpus=1`, a Kubernetes limit), a second thread only
 * takes turns with the first, and costs its memory (9 MiB on Node 20, 17 MiB on Node 24).
 */
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/**
 * The cores this process may run on, at least 1: the CPU affinity mask (`taskset`, cpusets; what
 * `os.availableParallelism()` gives) and the CPU quota of its cgroup and of each cgroup above it
 * (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us`), rounded down as libuv does. Node's own figure
 * counts a quota only from libuv 1.49.1, and not on every v1 layout; Node 20 never does.
 */
export function availableCores(): number {
  const affinity = typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
  const quota = process.platform === "linux" ? cgroupCpuLimit(readOrUndefined) : undefined;
  return Math.max(1, Math.min(affinity, quota ?? Infinity));
}

function readOrUndefined(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/**
 * The CPU quota of the process's cgroups in whole cores (at least 1), or `undefined` when none
 * limits it (or none can be read). Pure: `read` gives a file's text (`/proc/self/cgroup`,
 * `/proc/self/mountinfo` and the quota files under the cgroup mounts), or `undefined`.
 */
export function cgroupCpuLimit(read: (file: string) => string | undefined): number | undefined {
  const groups = read("/proc/self/cgroup");
  const mounts = read("/proc/self/mountinfo");
  if (groups === undefined || mounts === undefined) return undefined;
  // `hierarchy-id:controllers:path` per line.
  const lines = groups
    .split("\n")
    .map((l) => /^(\d+):([^:]*):(.*)$/.exec(l))
    .filter((g) => g !== null);
  let cores = Infinity;
  for (const m of cgroupMounts(mounts)) {
    // The process's cgroup in this mount's hierarchy: v2's `0::/path`, or v1's line naming `cpu`.
    const own = lines.find((g) => (m.v2 ? g[1] === "0" && g[2] === "" : g[2]!.split(",").includes("cpu")));
    if (!own) continue;
    // The mount shows the hierarchy from its root (a container's own cgroup, in a cgroup
    // namespace `/` for both): a cgroup outside it (another mount of the hierarchy, or `/..` from
    // a namespace entered without joining its cgroup) is not in this mount.
    const cg = own[3]!;
    const root = m.root.endsWith("/") ? m.root : `${m.root}/`;
    if (cg !== m.root && !cg.startsWith(root)) continue;
    const rel = cg.slice(m.root.length);
    if (rel.split("/").includes("..")) continue;
    for (let dir = path.posix.join(m.at, rel); ; dir = path.posix.dirname(dir)) {
      const limit = m.v2 ? quotaV2(read(`${dir}/cpu.max`)) : quotaV1(read(`${dir}/cpu.cfs_quota_us`), read(`${dir}/cpu.cfs_period_us`));
      if (limit !== undefined) cores = Math.min(cores, limit);
      if (dir === m.at || !dir.startsWith(m.at)) break;
    }
  }
  return cores === Infinity ? undefined : Math.max(1, Math.floor(cores));
}

/** A mount point or root as `mountinfo` writes it (`\040` for a space, and so on). */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The cgroup mounts that carry a CPU quota: v2, and v1 with the `cpu` controller. */
function cgroupMounts(mountinfo: string): { at: string; root: string; v2: boolean }[] {
  const out: { at: string; root: string; v2: boolean }[] = [];
  for (const line of mountinfo.split("\n")) {
    // id parent major:minor root mount-point options [optional…] - fstype source super-options
    const [before, after] = line.split(" - ");
    if (after === undefined) continue;
    const f = before!.split(" ");
    const [fstype, , superOptions = ""] = after.split(" ");
    if (f.length < 5) continue;
    if (fstype === "cgroup2") out.push({ at: unescape(f[4]!), root: unescape(f[3]!), v2: true });
    else if (fstype === "cgroup" && superOptions.split(",").includes("cpu")) out.push({ at: unescape(f[4]!), root: unescape(f[3]!), v2: false });
  }
  return out;
}

/** `cpu.max`: `max 100000` (no limit) or `<quota> <period>` in microseconds. */
function quotaV2(text: string | undefined): number | undefined {
  const m = /^(\d+) (\d+)\s*$/.exec(text ?? "");
  return m && Number(m[2]) > 0 ? Number(m[1]) / Number(m[2]) : undefined;
}

/** `cpu.cfs_quota_us` (`-1`: no limit) over `cpu.cfs_period_us`. */
function quotaV1(quota: string | undefined, period: string | undefined): number | undefined {
  const q = Number((quota ?? "").trim());
  const p = Number((period ?? "").trim());
  return quota !== undefined && period !== undefined && q > 0 && p > 0 ? q / p : undefined;
}
