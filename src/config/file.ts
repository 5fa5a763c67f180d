/** Reading a JSON config file (the I/O edge of the config module). */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { WorkspaceSyncError, toWorkspaceSyncError } from "../errors.js";
import type { ResolvedConfig } from "./types.js";
import { findJsonSyntaxError } from "./json-syntax.js";
import { resolveConfig, type ResolveOptions } from "./resolve.js";

/** Parses config JSON text. Malformed JSON → `CONFIG_INVALID` naming the file, line and column. */
export function parseConfigJson(text: string, file: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return JSON.parse(body) as unknown;
  } catch {
    // JSON.parse's message quotes the text around the error (maybe a secret): locate it ourselves.
    const found = findJsonSyntaxError(body);
    const where = found ? `:${found.line}:${found.column}` : "";
    const reason = found ? found.reason : "not valid JSON";
    throw new WorkspaceSyncError(
      "CONFIG_INVALID",
      `Invalid JSON in config file ${file}${where}: ${reason} — fix the JSON syntax (JSON allows no comments and no trailing commas)`,
      { path: file },
    );
  }
}

/**
 * Reads and resolves a JSON config file. Relative `local.root` paths are resolved against the
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
  const raw = pluginEntryConfig(parseConfigJson(text, file));
  return resolveConfig(raw, { ...options, source: options.source ?? file, baseDir: options.baseDir ?? path.dirname(path.resolve(file)) });
}

/** The plugin's id in an OpenClaw host config. */
export const PLUGIN_ID = "openclaw-workspace-sync";

/**
 * An OpenClaw `openclaw.json` holds the plugin config at `plugins.entries["openclaw-workspace-sync"].config`;
 * accept that file as is, so users can point the CLI at the config they already have.
 */
export function pluginEntryConfig(raw: unknown): unknown {
  const entries = (raw as { plugins?: { entries?: Record<string, { config?: unknown }> } } | null)?.plugins?.entries;
  const entry = entries && typeof entries === "object" ? entries[PLUGIN_ID] : undefined;
  return entry && typeof entry === "object" && entry.config && typeof entry.config === "object" ? entry.config : raw;
}
