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
import type { ParsedArgs } from "./args.js";
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
  args: ParsedArgs;
  io: CliIO;
  json: boolean;
  workspaceDir: string;
  stateDir: string;
  /** Loads (once) and returns the resolved config. */
  config(): Promise<ResolvedConfig>;
  /** Path of the config file in use, if any. */
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

/** Builds the context for one invocation. */
export function createCliContext(args: ParsedArgs, io: CliIO, signal: AbortSignal): CliContext {
  const json = args.flags.has("json");
  const verbose = args.flags.has("verbose");
  const configPath = args.values.get("config") ?? io.env.WORKSPACE_SYNC_CONFIG;
  const workspaceDir = path.resolve(io.cwd, args.values.get("workspace") ?? io.env.OPENCLAW_WORKSPACE ?? io.cwd);
  const stateDir = path.resolve(io.cwd, args.values.get("state-dir") ?? io.env.OPENCLAW_STATE_DIR ?? path.join(os.homedir(), ".openclaw"));
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
    args,
    io,
    json,
    workspaceDir,
    stateDir,
    configPath: configPath ? path.resolve(io.cwd, configPath) : undefined,
    logger,
    signal,
    config() {
      loaded ??= (async () => {
        if (!configPath) {
          throw new WorkspaceSyncError("CONFIG_INVALID", "No config given: pass --config FILE or set WORKSPACE_SYNC_CONFIG", { path: "--config" });
        }
        const config = await loadConfigFile(path.resolve(io.cwd, configPath), { env: io.env });
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
