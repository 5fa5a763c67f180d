/**
 * Safety rules for archive entry names and link targets on extraction. Pure: the extractor applies
 * them before touching the disk.
 */
import path from "node:path";
import { WorkspaceSyncError } from "../errors.js";

/** The `UNSAFE_ARCHIVE_ENTRY` error for `entryName`. */
export function unsafeEntry(entryName: string, why: string): WorkspaceSyncError {
  return new WorkspaceSyncError(
    "UNSAFE_ARCHIVE_ENTRY",
    `Refused archive entry ${JSON.stringify(entryName)}: ${why}. Nothing was written outside the restore folder`,
    { path: entryName },
  );
}

function components(name: string): string[] {
  return name.split(process.platform === "win32" ? /[\\/]/ : "/");
}

/**
 * Normalises an entry name to a relative `/`-separated path inside the target (`./a//b/` → `a/b`).
 * Returns `""` for the archive root (`./`). Throws `UNSAFE_ARCHIVE_ENTRY` for absolute names,
 * `..` components and NUL bytes.
 */
export function safeEntryName(name: string): string {
  if (name.includes("\0")) throw unsafeEntry(name, "the name contains a NUL byte");
  if (name.startsWith("/") || /^[A-Za-z]:/.test(name) || (process.platform === "win32" && name.startsWith("\\"))) {
    throw unsafeEntry(name, "absolute path");
  }
  const parts = components(name).filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw unsafeEntry(name, "the path contains a '..' component");
  return parts.join("/");
}

/**
 * Decides whether symlinks stay inside the extraction root, resolving targets through the links
 * already extracted (a textual check alone is fooled by `l -> ../../..` followed by
 * `x -> a/b/c/l/../../../../etc/shadow`). A link may not later be created at a path some earlier
 * link's resolution went through, as a plain folder or as a link, since that would change where
 * the earlier link points; such a link is {@link SymlinkGuard.pinned} and may not be replaced at
 * all (a file put there first, then a link, is refused at the link: the path stays recorded).
 * Pure: it tracks links in memory; the extractor and the checker feed it entries.
 */
export class SymlinkGuard {
  private readonly links = new Map<string, string>();
  private readonly traversed = new Set<string>();

  constructor(private readonly rootDir: string) {}

  /** Why `entryName → linkname` would lead outside the root, or undefined when it stays inside. */
  check(entryName: string, linkname: string): string | undefined {
    if (linkname === "" || linkname.includes("\0")) return `symlink target ${JSON.stringify(linkname)} is not valid`;
    if (this.traversed.has(entryName)) {
      return "another symlink in the archive resolves through this path as a folder, and a link here would change where it points";
    }
    const start = this.absoluteParts(linkname);
    let stack: string[];
    let queue: string[];
    if (start === null) return `symlink target ${JSON.stringify(linkname)} is outside the restore folder`;
    if (start !== undefined) {
      stack = [];
      queue = start;
    } else {
      stack = entryName.split("/").slice(0, -1).filter((p) => p !== "" && p !== ".");
      queue = linkname.split("/");
    }
    const seen: string[] = [];
    let hops = 0;
    while (queue.length > 0) {
      const c = queue.shift() as string;
      if (c === "" || c === ".") continue;
      if (c === "..") {
        if (stack.length === 0) return `symlink target ${JSON.stringify(linkname)} is outside the restore folder`;
        stack.pop();
        continue;
      }
      stack.push(c);
      const here = stack.join("/");
      const target = this.links.get(here);
      if (target === undefined) {
        seen.push(here);
        continue;
      }
      if (++hops > 40) return `symlink target ${JSON.stringify(linkname)} loops through other links`;
      // Resolved through this link: it must stay as it is (recorded once the whole check passed).
      seen.push(here);
      stack.pop();
      const abs = this.absoluteParts(target);
      if (abs === null) return `symlink target ${JSON.stringify(linkname)} leads outside the restore folder through ${JSON.stringify(here)}`;
      if (abs !== undefined) stack = [];
      queue = [...(abs ?? target.split("/")), ...queue];
    }
    for (const p of seen) this.traversed.add(p);
    return undefined;
  }

  /**
   * Whether `entryName` is a link some accepted link resolves through: replacing or removing it
   * would change where that link points, so a later entry there is refused.
   */
  pinned(entryName: string): boolean {
    return this.links.has(entryName) && this.traversed.has(entryName);
  }

  /** Records an extracted link. */
  add(entryName: string, linkname: string): void {
    this.links.set(entryName, linkname);
  }

  /** Forgets a link replaced by another entry (a path resolved through stays recorded). */
  remove(entryName: string): void {
    this.links.delete(entryName);
  }

  /**
   * Components of an absolute target below the root, `.` and `..` kept for the caller's walk
   * through the links (never collapsed on the text: `root/a/../..` climbs above the root when `a`
   * is a link to `.`); null when it does not start with the root's own components; undefined
   * when relative.
   */
  private absoluteParts(target: string): string[] | null | undefined {
    if (!path.isAbsolute(target)) return undefined;
    // (`.` never changes where a path leads, through links or not; a `..` before the root's own
    // components end is refused: strict, and never wrong.)
    const root = components(path.resolve(this.rootDir)).filter((p) => p !== "");
    const parts = components(target).filter((p) => p !== "" && p !== ".");
    for (let i = 0; i < root.length; i++) if (parts[i] !== root[i]) return null;
    return parts.slice(root.length);
  }
}
