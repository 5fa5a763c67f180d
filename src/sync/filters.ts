/**
 * Exclude filters (minimatch globs, rclone-like): a pattern with a `/` matches the whole relative
 * path, a pattern without one matches any path component (`*.log`, `node_modules`). A match on a
 * folder excludes everything under it. Excluded files are never uploaded, downloaded or deleted.
 */
import { createHash } from "node:crypto";
import { Minimatch } from "minimatch";

/** A compiled filter set. */
export interface SyncFilter {
  /** True when `relPath` (a file or a folder, `/`-separated) is excluded. */
  excluded(relPath: string): boolean;
  /** True when `relPath` itself matches (its folders are known not to): the walker's cheaper test. */
  matches(relPath: string): boolean;
  /** Hash of the settings that decide what is in scope; stored in the state. */
  readonly hash: string;
}

/** Compiles `patterns`. `copySymlinks` is part of the hash because it changes what is in scope. */
export function createFilter(patterns: readonly string[], copySymlinks = false): SyncFilter {
  const matchers = patterns
    .map((p) => p.trim())
    .filter((p) => p !== "")
    .map((p) => {
      const anchored = p.replace(/^\/+/, "");
      return new Minimatch(anchored, { dot: true, matchBase: !p.includes("/"), nocomment: true, nonegate: true });
    });
  const hash = createHash("sha256")
    .update(JSON.stringify({ exclude: [...patterns], copySymlinks }))
    .digest("hex")
    .slice(0, 16);
  const matchOne = (p: string): boolean => matchers.some((m) => m.match(p));
  return {
    hash,
    matches(relPath: string): boolean {
      return matchers.length > 0 && matchOne(relPath);
    },
    excluded(relPath: string): boolean {
      if (matchers.length === 0) return false;
      if (matchOne(relPath)) return true;
      // A matched folder excludes its contents.
      let i = relPath.indexOf("/");
      while (i !== -1) {
        if (matchOne(relPath.slice(0, i))) return true;
        i = relPath.indexOf("/", i + 1);
      }
      return false;
    },
  };
}
