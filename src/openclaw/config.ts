/**
 * The plugin config as the host hands it over: `plugins.entries["openclaw-workspace-sync"].config`,
 * with `${ENV}` references already replaced by the host. Resolving it again must not interpolate
 * a second time (a passphrase the user wrote as `$${X}` reaches us as the literal `${X}`).
 */
import os from "node:os";
import path from "node:path";
import { PLUGIN_ENTRY_CONFIG_PATH, PLUGIN_ID, resolveConfig } from "../config/index.js";
import type { ResolvedConfig } from "../config/index.js";
import type { HostConfig } from "./host.js";

/** Where the plugin config sits in the host config, for messages. */
export const PLUGIN_CONFIG_PATH = PLUGIN_ENTRY_CONFIG_PATH;

const REFERENCE = /\$\{[A-Z_][A-Z0-9_]*\}/g;

/**
 * A copy of `value` in which every `${NAME}` reads `$${NAME}`, so the library's interpolation
 * gives back exactly the text the host produced (`$${NAME}` → `${NAME}`).
 */
export function protectFromInterpolation(value: unknown): unknown {
  if (typeof value === "string") return value.replace(REFERENCE, (m) => `$${m}`);
  if (Array.isArray(value)) return value.map(protectFromInterpolation);
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) Object.defineProperty(out, k, { value: protectFromInterpolation(v), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return value;
}

/** This plugin's entry config inside a host config, if there is one. */
export function pluginConfigFromHost(config: HostConfig | undefined): Record<string, unknown> | undefined {
  const entry = config?.plugins?.entries?.[PLUGIN_ID];
  const raw = entry && typeof entry === "object" ? entry.config : undefined;
  return raw && typeof raw === "object" && !Array.isArray(raw) ? (raw as Record<string, unknown>) : undefined;
}

/**
 * The folder of the host's config file, which relative `local.root` paths are resolved against
 * (as the bin resolves them against its `--config` file's folder): OpenClaw reads its config from
 * `OPENCLAW_CONFIG_PATH`, else `<state dir>/openclaw.json`.
 */
export function hostConfigDir(stateDir: string, env: NodeJS.ProcessEnv = process.env): string {
  let file = env.OPENCLAW_CONFIG_PATH || path.join(stateDir, "openclaw.json");
  if (file === "~" || file.startsWith("~/")) file = path.join(os.homedir(), file.slice(1));
  return path.dirname(path.resolve(file));
}

/**
 * Validates and resolves the host-provided plugin config. Relative `local.root` folders are
 * resolved against `baseDir` (the folder of the host's config file, see {@link hostConfigDir}).
 * Throws the library's typed config errors.
 */
export function resolvePluginConfig(raw: unknown, options: { baseDir?: string } = {}): ResolvedConfig {
  return resolveConfig(protectFromInterpolation(raw ?? {}), { env: {}, baseDir: options.baseDir, source: PLUGIN_CONFIG_PATH });
}
