/**
 * What every CLI command needs: where the config, workspace and state are, a logger that masks
 * secrets, output helpers (`--json`), and progress on stderr.
 */
import os from "node:os";
import path from "node:path";
import { loadConfigFile } from "../config/index.js";
import type { ResolvedConfig } from "../config/types.js";
import { WorkspaceSyncError } from "../errors.js";
import type { Logger, Progress } from "../logger.js";
import { collectSecrets, redact } from "./redact.js";
import { formatBytes as formatSize } from "../util/format.js";

/** Streams the CLI writes to (injectable for tests). */
export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** Per-invocation context handed to commands. */
export interface CliContext {
  io: CliIO;
  /** `--json`: the result as JSON on stdout instead of the text lines. */
  json: boolean;
  workspaceDir: string;
  stateDir: string;
  /** Loads (once) and returns the resolved config. */
  config(): Promise<ResolvedConfig>;
  /** Where the config comes from (a file path, or the host's config entry), if known. */
  configPath: string | undefined;
  logger: Logger;
  /** Prints a line on stdout (suppressed in `--json` mode). */
  print(line?: string): void;
  /** Prints the JSON result (only in `--json` mode). */
  printJson(value: unknown): void;
  /** Progress reporter for long transfers (stderr). */
  progress(label: string): { update(p: Progress): void; done(): void };
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
}

/** What a front end hands to {@link createCliContext}: the bin reads it from argv and the environment, a host from its own state. */
export interface CliContextOptions {
  /** `--json`: print the JSON result, not the text lines. */
  json?: boolean;
  /** `--verbose`: log lines (info, errors, debug) on stderr; warnings are always shown. */
  verbose?: boolean;
  io: CliIO;
  signal: AbortSignal;
  /** The agent workspace (absolute). */
  workspaceDir: string;
  /** The state folder (absolute). */
  stateDir: string;
  /**
   * The config, loaded on first use by `config()`: the bin passes a loader of its config file, a
   * host a loader of its plugin config. Give this or {@link CliContextOptions.config}.
   */
  loadConfig?: () => Promise<ResolvedConfig>;
  /** A config the host already loaded and resolved (used instead of `loadConfig`). */
  config?: ResolvedConfig;
  /** Where the config comes from, shown by `status` and `config check`. */
  configPath?: string;
}

/** Where the bin finds its config, workspace and state folder: options first, then the environment. */
export interface CliLocations {
  workspaceDir: string;
  stateDir: string;
  /** Absolute path of the config file, when one was given. */
  configPath: string | undefined;
}

/** The bin's `--config`, `--workspace` and `--state-dir`, when given. */
export interface CliLocationOptions {
  config?: string | undefined;
  workspace?: string | undefined;
  stateDir?: string | undefined;
}

/** Resolves `--config`, `--workspace` and `--state-dir` (or WORKSPACE_SYNC_CONFIG, OPENCLAW_WORKSPACE, OPENCLAW_STATE_DIR). */
export function cliLocations(options: CliLocationOptions, io: CliIO): CliLocations {
  const configPath = options.config ?? io.env.WORKSPACE_SYNC_CONFIG;
  return {
    workspaceDir: path.resolve(io.cwd, options.workspace ?? io.env.OPENCLAW_WORKSPACE ?? io.cwd),
    stateDir: path.resolve(io.cwd, options.stateDir ?? io.env.OPENCLAW_STATE_DIR ?? path.join(os.homedir(), ".openclaw")),
    configPath: configPath ? path.resolve(io.cwd, configPath) : undefined,
  };
}

/** A loader of the bin's config file (`${ENV}` read from `io.env`); a clear error when none was given. */
export function configFileLoader(configPath: string | undefined, io: CliIO): () => Promise<ResolvedConfig> {
  return async () => {
    if (!configPath) {
      throw new WorkspaceSyncError("CONFIG_INVALID", "No config given: pass --config FILE or set WORKSPACE_SYNC_CONFIG", { path: "--config" });
    }
    return loadConfigFile(configPath, { env: io.env });
  };
}

async function noConfig(): Promise<never> {
  throw new WorkspaceSyncError("CONFIG_INVALID", "No config given to the command context: pass config or loadConfig");
}

/**
 * Builds the context for one invocation. It reads no argv and no environment itself: the front end
 * (the bin via {@link cliLocations} and {@link configFileLoader}, or a host) supplies the workspace,
 * the state folder and the config.
 */
export function createCliContext(options: CliContextOptions): CliContext {
  const { io, signal, workspaceDir, stateDir, configPath } = options;
  const json = options.json ?? false;
  const verbose = options.verbose ?? false;
  let secrets: string[] = [];
  let loaded: Promise<ResolvedConfig> | undefined;

  const write = (stream: NodeJS.WritableStream, text: string) => stream.write(redact(text, secrets));
  const logger: Logger = {
    info: (m) => {
      if (verbose) write(io.stderr, `${m}\n`);
    },
    warn: (m) => write(io.stderr, `warning: ${m}\n`),
    error: (m) => {
      if (verbose) write(io.stderr, `error: ${m}\n`);
    },
    debug: verbose ? (m) => write(io.stderr, `debug: ${m}\n`) : undefined,
  };

  return {
    io,
    json,
    workspaceDir,
    stateDir,
    configPath,
    logger,
    signal,
    config() {
      loaded ??= (async () => {
        const config = options.config ?? (await (options.loadConfig ?? noConfig)());
        secrets = collectSecrets(config);
        for (const w of config.warnings) logger.warn(`config: ${w}`);
        return config;
      })();
      return loaded;
    },
    print(line = "") {
      if (!json) write(io.stdout, `${line}\n`);
    },
    printJson(value) {
      if (json) write(io.stdout, `${JSON.stringify(value, null, 2)}\n`);
    },
    progress(label) {
      const started = Date.now();
      let lastDraw = 0;
      let drawn = false;
      const tty = !!io.stderr.isTTY;
      return {
        update(p: Progress) {
          const now = Date.now();
          // Only long work gets progress; plain lines every 5 s off a TTY, a live line on a TTY.
          if (now - started < 2000 || now - lastDraw < (tty ? 250 : 5000)) return;
          lastDraw = now;
          const secs = (now - started) / 1000;
          const rate = p.bytes / secs / 1e6;
          const total = p.totalBytes ? ` / ${formatBytes(p.totalBytes)}` : "";
          const pct = p.totalBytes ? ` ${Math.min(100, Math.floor((p.bytes / p.totalBytes) * 100))}%` : "";
          const line = `${label}: ${formatBytes(p.bytes)}${total}${pct} at ${rate.toFixed(1)} MB/s`;
          if (tty) io.stderr.write(`\r\x1b[K${line}`);
          else io.stderr.write(`${line}\n`);
          drawn = true;
        },
        done() {
          if (drawn && tty) io.stderr.write("\r\x1b[K");
        },
      };
    },
  };
}

/** `1.2 MB` style sizes for CLI output. */
export function formatBytes(n: number): string {
  return formatSize(n, " ");
}
