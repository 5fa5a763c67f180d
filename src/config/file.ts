/** Reading a JSON or JSON5 config file (the I/O edge of the config module). */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { WorkspaceSyncError, toWorkspaceSyncError } from "../errors.js";
import type { ResolvedConfig } from "./types.js";
import { parseJson5 } from "./json5.js";
import { resolveConfig, type ResolveOptions } from "./resolve.js";
import { ConfigError, showValue } from "./issues.js";
import { FLAT_MARKERS } from "./layout.js";
import { isObject } from "./env.js";

/**
 * Parses config text as JSON5 (OpenClaw's `openclaw.json` format, a superset of JSON: comments,
 * unquoted keys, trailing commas). Malformed text → `CONFIG_INVALID` naming the file, line and
 * column, never quoting the text (it may hold a secret).
 */
export function parseConfigJson(text: string, file: string): unknown {
  const result = parseJson5(text);
  if (result.ok) return result.value;
  const { line, column, reason } = result.error;
  throw new WorkspaceSyncError(
    "CONFIG_INVALID",
    `Invalid JSON in config file ${file}:${line}:${column}: ${reason} — fix the syntax (JSON5 is read: comments, unquoted keys and trailing commas are fine)`,
    { path: file },
  );
}

/**
 * Reads and resolves a JSON or JSON5 config file (a plugin config, or an `openclaw.json`). Relative `local.root` paths are resolved against the
 * file's folder. Errors name the file.
 *
 * @throws {WorkspaceSyncError} `NOT_FOUND` when the file is missing, `CONFIG_INVALID` for malformed
 *   JSON or invalid settings, and everything {@link resolveConfig} throws.
 */
export async function loadConfigFile(file: string, options: ResolveOptions = {}): Promise<ResolvedConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new WorkspaceSyncError("NOT_FOUND", `Config file not found: ${file} — create it or pass the right path`, { path: file, cause: err });
    }
    throw toWorkspaceSyncError(err, "CONFIG_INVALID");
  }
  const raw = pluginEntryConfig(parseConfigJson(text, file), options.source ?? file);
  return resolveConfig(raw, { ...options, source: options.source ?? file, baseDir: options.baseDir ?? path.dirname(path.resolve(file)) });
}

/** The plugin's id in an OpenClaw host config. */
export const PLUGIN_ID = "openclaw-workspace-sync";

/** Where the plugin config sits in a host config, as messages name it. */
export const PLUGIN_ENTRY_CONFIG_PATH = `plugins.entries["${PLUGIN_ID}"].config`;

/** Root keys of the plugin's own config: a root with any of them is a plugin config, whatever else it holds. */
const PLUGIN_ROOT_KEYS: readonly string[] = ["sync", "backup", ...FLAT_MARKERS];

/**
 * The plugin config in a parsed config file. A root is an OpenClaw host config (`openclaw.json`)
 * when it has a `plugins` object and none of the plugin's own root keys (`sync`, `backup`, or the
 * flat form's `provider`/`mode`/`remotePath`/`interval`): then only its
 * `plugins.entries["openclaw-workspace-sync"].config` is the plugin's, so users can point the CLI at
 * the file they already have; the host's own keys (models, agents, their `${ENV}` references) are
 * never read. An entry whose config is missing or null (or no entry) reads as `{}`, everything off,
 * as the host itself does (`resolvePluginConfig(raw ?? {})`). Any other root is the plugin config
 * itself (a stray `plugins` key there is an unknown key, warned about and ignored).
 *
 * @throws {ConfigError} `CONFIG_INVALID` naming {@link PLUGIN_ENTRY_CONFIG_PATH} when a host
 *   config's entry config is not an object (described by type only).
 */
export function pluginEntryConfig(raw: unknown, source?: string): unknown {
  if (!isObject(raw) || !isObject(raw.plugins)) return raw;
  if (PLUGIN_ROOT_KEYS.some((k) => Object.hasOwn(raw, k))) return raw;
  // A host config, `entries` or not: none of the host's own keys is ever read.
  const entries = raw.plugins.entries;
  const entry = isObject(entries) && Object.hasOwn(entries, PLUGIN_ID) ? entries[PLUGIN_ID] : undefined;
  const config = isObject(entry) ? entry.config : undefined;
  if (config === undefined || config === null) return {};
  if (isObject(config)) return config;
  const p = PLUGIN_ENTRY_CONFIG_PATH;
  const message = `${p}: expected an object, got ${showValue(config, true)} — write "config": { "sync": { ... }, "backup": { ... } }`;
  throw new ConfigError("CONFIG_INVALID", [{ path: p, message }], source);
}
