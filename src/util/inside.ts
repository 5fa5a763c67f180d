import path from "node:path";

/**
 * True when `child` is `parent` itself or a path inside it. Both absolute and already resolved (for
 * symbolic links, pass real paths). Lexical: a name that merely starts with `..` (`..notes`) is inside.
 */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith(`..${path.sep}`) && rel !== ".." && !path.isAbsolute(rel));
}
