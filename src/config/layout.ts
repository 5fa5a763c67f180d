/**
 * Flat vs nested config, decided exactly as the plugin's `parsePluginConfig`: a `sync` object is
 * used only when none of provider/mode/remotePath/interval sits at the root; otherwise the root is
 * the sync block (the flat form) and `sync` is ignored. We keep that precedence so a config loads
 * the same way it did in the plugin, and warn where the plugin was silent.
 */
import { syncSchema } from "./schema.js";
import type { ConfigIssue } from "./issues.js";
import { showValue } from "./issues.js";
import { isObject, setOwn } from "./env.js";

/** Root keys the plugin looks at to decide that a config is flat. */
export const FLAT_MARKERS = ["provider", "mode", "remotePath", "interval"] as const;
/** Root keys that are never sync keys. `$schema` is allowed for editors. */
const ROOT_KEYS = new Set(["sync", "backup", "$schema"]);

/** The config split into its sections. */
export interface ConfigLayout {
  form: "nested" | "flat";
  /** The raw sync block (`{}` when absent). */
  sync: unknown;
  /** Where the sync keys sit: `["sync"]` (nested) or `[]` (flat). */
  syncPrefix: PropertyKey[];
  /** The raw backup block, undefined when absent (or null). */
  backup: unknown;
  warnings: string[];
  issues: ConfigIssue[];
}

/**
 * `backup` with a `retain` count written as a string (`"7"`) read as the number, with a warning:
 * the plugin's schema left `retain` untyped and its retention read such a string as the count,
 * so configs carry it; refusing it would stop the sync as well.
 */
function retainAsWritten(backup: Record<string, unknown>, warnings: string[]): Record<string, unknown> {
  const retain = backup.retain;
  if (typeof retain !== "string" || !/^\s*-?\d+\s*$/.test(retain)) return backup;
  const count = Number(retain);
  warnings.push(`backup.retain: the string ${JSON.stringify(retain)} is read as the count ${count} — write it as a number`);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(backup)) setOwn(out, key, key === "retain" ? count : value);
  return out;
}

/** Splits a raw (already interpolated) root object into its sync and backup sections. */
export function splitLayout(root: Record<string, unknown>): ConfigLayout {
  const warnings: string[] = [];
  const issues: ConfigIssue[] = [];
  const hasSync = isObject(root.sync);
  // A section is never echoed, only described by type: a block written as a string may be a token.
  if (root.sync !== undefined && root.sync !== null && !hasSync) {
    issues.push({ path: "sync", message: `sync: expected an object, got ${showValue(root.sync, true)} — write "sync": { "provider": ..., "mode": ... }` });
  }
  let backup: unknown = root.backup ?? undefined;
  if (backup !== undefined && !isObject(backup)) {
    issues.push({ path: "backup", message: `backup: expected an object, got ${showValue(backup, true)} — write "backup": { "enabled": true, ... }` });
    backup = undefined;
  }
  if (isObject(backup)) backup = retainAsWritten(backup, warnings);
  const markers = FLAT_MARKERS.filter((k) => k in root);
  if (hasSync && markers.length === 0) {
    const syncKeys = syncSchema.shape as Record<string, unknown>;
    for (const key of Object.keys(root)) {
      if (ROOT_KEYS.has(key) || root[key] === undefined) continue;
      warnings.push(
        Object.hasOwn(syncKeys, key)
          ? `${key}: ignored at the root because the config has a "sync" block — move it into "sync"`
          : `${key}: unknown key, ignored — check the spelling against the config reference`,
      );
    }
    return { form: "nested", sync: root.sync, syncPrefix: ["sync"], backup, warnings, issues };
  }
  const sync: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(root)) if (!ROOT_KEYS.has(key)) setOwn(sync, key, value);
  if (hasSync) {
    warnings.push(
      `sync: ignored because sync keys also sit at the root (${markers.join(", ")}); as in the plugin the root keys win — move them into "sync" or remove the "sync" block`,
    );
  }
  return { form: "flat", sync, syncPrefix: [], backup, warnings, issues };
}
