import path from "node:path";

/**
 * `${dir}/${name}` as one flat string. V8 builds a concatenation of 13 or more characters as a
 * "cons string", a tree node pointing at both parts, which keeps the parts alive beside the
 * flattened copy made when the string is first hashed; a listing that keeps 100 000 paths in memory
 * pays that per path. `Array.prototype.join` copies the characters into one new string.
 */
export function flatJoin(dir: string, name: string): string {
  return [dir, name].join("/");
}

/**
 * The path of `name` (one entry just read from the folder `dir`) for a system call. `path.join`
 * normalizes the whole string character by character (~1 KB of garbage a call), which a walk over
 * 100 000 files pays on every entry; a readdir name never holds a separator, `.` or `..`, so
 * nothing needs normalizing.
 */
export function childPath(dir: string, name: string): string {
  return dir.endsWith(path.sep) ? dir + name : dir + path.sep + name;
}

/** An empty, `.` or `..` segment: a relative path that `path.join` would change. */
const NOT_PLAIN = /(?:^|\/)\.{0,2}(?:\/|$)/;

/** Whether `/`-separated `rel` is non-empty with no empty, `.` or `..` segment (normalizing it changes nothing). */
export function isPlainRelPath(rel: string): boolean {
  return !NOT_PLAIN.test(rel);
}

/**
 * Absolute path of `/`-separated relative path `rel` under folder `root` (`root` itself for `""`),
 * as `path.join(root, ...rel.split("/"))` gives it, for a `root` as `path.resolve` or `realpath`
 * gives it (absolute, normalized: every caller's). Where the separator is `/` and `rel` has no
 * empty, `.` or `..` segment (a listed or checked name always), by concatenation: `path.join`
 * normalizes its whole result character by character, and a first sync of 40 000 files called it
 * ~4 times a file (150 MB of garbage).
 */
export function underRoot(root: string, rel: string): string {
  if (rel === "") return root;
  if (path.sep !== "/" || !isPlainRelPath(rel)) return path.join(root, ...rel.split("/"));
  return root.endsWith("/") ? root + rel : `${root}/${rel}`;
}
