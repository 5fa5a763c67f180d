/**
 * The include set: which folders and files a backup holds, mapped from the plugin's include names
 * exactly as the plugin does. Pure: no file system access.
 */
import path from "node:path";
import type { IncludeItem } from "../config/types.js";

/** The two folders include items live in. */
export interface IncludeRoots {
  /** The agent's workspace folder. */
  workspaceDir: string;
  /** The OpenClaw state folder (`~/.openclaw` by default). */
  stateDir: string;
}

/** One include item resolved to a path on disk. */
export interface IncludeSource {
  /** The include name from the config. */
  item: IncludeItem;
  /** Absolute path of the file or folder. */
  path: string;
  /** Top-level name inside the archive: the basename of `path` (`workspace`, `openclaw.json`, `.env`). */
  archiveName: string;
}

/** Where each include item lives, relative to the workspace or state folder (plugin table). */
const ITEM_LOCATION: Record<IncludeItem, { root: keyof IncludeRoots; rel: string }> = {
  workspace: { root: "workspaceDir", rel: "" },
  config: { root: "stateDir", rel: "openclaw.json" },
  cron: { root: "stateDir", rel: "cron" },
  memory: { root: "workspaceDir", rel: "memory" },
  sessions: { root: "stateDir", rel: "sessions" },
  // The plugin maps transcripts to the sessions folder too.
  transcripts: { root: "stateDir", rel: "sessions" },
  credentials: { root: "stateDir", rel: "credentials" },
  hooks: { root: "stateDir", rel: "hooks" },
  extensions: { root: "stateDir", rel: "extensions" },
  agents: { root: "stateDir", rel: "agents" },
  skills: { root: "workspaceDir", rel: "skills" },
  pages: { root: "workspaceDir", rel: "pages" },
  // The workspace's .env, not the state folder's.
  env: { root: "workspaceDir", rel: ".env" },
};

/** The path an include item maps to. */
export function includeItemPath(item: IncludeItem, roots: IncludeRoots): string {
  const loc = ITEM_LOCATION[item];
  const base = path.resolve(roots[loc.root]);
  return loc.rel ? path.join(base, loc.rel) : base;
}

/**
 * Resolves include items to sources, in include order. Items that map to the same path as an
 * earlier item (sessions + transcripts, or a repeated name) are dropped: the archive holds them once.
 */
export function resolveIncludeSources(include: readonly IncludeItem[], roots: IncludeRoots): IncludeSource[] {
  const seen = new Set<string>();
  const out: IncludeSource[] = [];
  for (const item of include) {
    const p = includeItemPath(item, roots);
    if (seen.has(p)) continue;
    seen.add(p);
    out.push({ item, path: p, archiveName: path.basename(p) });
  }
  return out;
}
