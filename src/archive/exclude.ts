/**
 * Exclude patterns with GNU tar `--exclude` semantics, as the plugin used them: patterns are matched
 * unanchored against archive paths (`workspace/src/.git`), so a pattern without `/` matches any
 * path component (`.git`, `node_modules`, `*.log`) and a pattern with `/` matches any trailing run of
 * components (`cache/tmp` matches `workspace/a/cache/tmp`). A matched folder is skipped with
 * everything below it. Pure.
 */
import { Minimatch } from "minimatch";

/**
 * The plugin's normalisation of rclone-style patterns for tar: `**\/x` → `x`, `x/**` → `x`
 * (so `**\/.DS_Store` → `.DS_Store`, `node_modules/**` → `node_modules`).
 */
export function normaliseExcludePattern(pattern: string): string {
  return pattern.replace(/^\*\*\//, "").replace(/\/\*\*$/, "");
}

/**
 * Decides whether an archive path is excluded. `isDirectory` enables patterns ending in `/`.
 * `parentsChecked` (a walk that already skipped excluded folders) tests the path itself only.
 */
export type ExcludeMatcher = (archivePath: string, isDirectory?: boolean, parentsChecked?: boolean) => boolean;

interface CompiledPattern {
  mm: Minimatch;
  /** Number of path components the pattern spans (unanchored patterns are tried on that many trailing components). */
  span: number;
  /** Pattern contains `**`: try every suffix, not just the last `span` components. */
  globstar: boolean;
  /** Leading `/`: matched against the whole archive path only. */
  anchored: boolean;
  dirOnly: boolean;
}

/**
 * Compiles exclude patterns (after {@link normaliseExcludePattern}) into one matcher.
 * Wildcards match dot files (fnmatch without FNM_PERIOD, as tar). A leading `/` anchors a pattern
 * to the archive root (`/workspace/tmp`); a trailing `/` makes it match folders only.
 * Empty patterns and comments (`#…`) are ignored.
 */
export function createExcludeMatcher(patterns: readonly string[]): ExcludeMatcher {
  const compiled: CompiledPattern[] = [];
  for (const raw of patterns) {
    let p = normaliseExcludePattern(raw.trim());
    if (!p || p.startsWith("#")) continue;
    const anchored = p.startsWith("/");
    const dirOnly = p.length > 1 && p.endsWith("/");
    p = p.replace(/^\/+/, "").replace(/\/+$/, "");
    if (!p) continue;
    compiled.push({
      mm: new Minimatch(p, { dot: true, nocomment: true, nonegate: true }),
      span: p.split("/").length,
      globstar: p.includes("**"),
      anchored,
      dirOnly,
    });
  }
  if (compiled.length === 0) return () => false;
  // A path is excluded when it or any folder above it matches (tar never descends into an excluded folder).
  return (archivePath, isDirectory = false, parentsChecked = false) => {
    const parts = archivePath.split("/").filter((s) => s !== "");
    for (let end = parentsChecked ? parts.length : 1; end <= parts.length; end++) {
      const isDir = end < parts.length || isDirectory;
      for (const c of compiled) {
        if (c.dirOnly && !isDir) continue;
        if (c.anchored) {
          if (c.mm.match(parts.slice(0, end).join("/"))) return true;
        } else if (c.globstar) {
          for (let i = 0; i < end; i++) if (c.mm.match(parts.slice(i, end).join("/"))) return true;
        } else if (end >= c.span && c.mm.match(parts.slice(end - c.span, end).join("/"))) {
          return true;
        }
      }
    }
    return false;
  };
}
