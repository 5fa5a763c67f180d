/**
 * `WorkspaceSync`: the embeddable manager. One instance owns one config, workspace and state
 * folder; it schedules backups and periodic syncs with chained timers (the next run is armed only
 * after the previous one ended, so runs never overlap), runs the session hooks through the same
 * one-sync-at-a-time slot, and `stop()` aborts in-flight work, waits for it and clears every timer.
 * Instances share no state, so several can live in one process.
 */
import { EventEmitter } from "node:events";
import type { RunBackupResult, RunRestoreResult } from "../backup/index.js";
import { loadSyncConfig, type ConfigInput } from "../config/index.js";
import { readBackupState } from "../backup/state.js";
import type { ResolvedConfig } from "../config/types.js";
import { WorkspaceSyncError, abortError, errorMessage, toWorkspaceSyncError } from "../errors.js";
import { silentLogger, type Logger, type ProgressCallback } from "../logger.js";
import { syncFailure, type SyncRunResult } from "../sync/index.js";
import { systemClock, type Clock } from "./clock.js";
import type {
  BackupTrigger,
  ErrorContext,
  SessionHookOutcome,
  SyncTrigger,
  WorkspaceSyncEvents,
  WorkspaceSyncStatus,
} from "./events.js";
import { Lane, settleWithin, type Running } from "./lane.js";
import { defaultOperations, type WorkspaceSyncOperations } from "./operations.js";
import { logNote, type ManagerNote, type SessionSide } from "./messages.js";
import { countBackup, countSync, emptyBackupStats, emptySyncStats } from "./stats.js";
import { judgeRun } from "./verdict.js";
import {
  BACKUP_START_DELAY_MS,
  DEFAULT_BACKUP_INTERVAL_S,
  DEFAULT_SYNC_INTERVAL_S,
  MIN_BACKUP_INTERVAL_S,
  MIN_SYNC_INTERVAL_S,
  SYNC_START_DELAY_MS,
  decideInterval,
  firstBackupDelay,
} from "./schedule.js";

/** Longest time `stop()` waits for aborted work to settle. */
export const DEFAULT_STOP_TIMEOUT_MS = 10_000;
/** Longest time a session hook waits for a running sync before skipping. */
export const DEFAULT_HOOK_WAIT_MS = 30_000;

/** Called after a drain moved files into `_inbox` (only when `sync.notifyOnInbox` is true). */
export type InboxCallback = (files: string[], text: string) => void | Promise<void>;

/** Options of {@link WorkspaceSync}. */
export interface WorkspaceSyncOptions {
  /** The plugin config (nested or flat) or a resolved config. Invalid config throws a typed CONFIG_* error. */
  config: ConfigInput;
  /** The agent workspace. */
  workspaceDir: string;
  /** Folder for state (backup schedule, sync state, locks). */
  stateDir: string;
  logger?: Logger;
  /** Host notification for new inbox files (the plugin's `notifyOnInbox` callback). */
  onInboxFiles?: InboxCallback;
  /** Replaces some or all of the operations (tests, instrumentation). */
  operations?: Partial<WorkspaceSyncOperations>;
  /** Time source and timers (default: the real clock; tests pass a `ManualClock`). */
  clock?: Clock;
  /** Longest wait of `stop()` for in-flight work (default 10 s). */
  stopTimeoutMs?: number;
  /** Longest wait of a session hook for a running sync (default 30 s). */
  hookWaitMs?: number;
}

/** Which parts `start()` / `stop()` act on (default: both). */
export interface ManagerParts {
  backup?: boolean;
  sync?: boolean;
}


/**
 * Background backups, periodic sync and session hooks for one workspace.
 *
 * Counters: they belong to the instance and are reset by `start()` for the part being started;
 * `stop()` keeps them so the final numbers stay readable. (The plugin kept module-level counters
 * that leaked across restarts in one process.)
 */
export class WorkspaceSync extends EventEmitter<WorkspaceSyncEvents> {
  /** The resolved config this instance runs with. */
  readonly config: ResolvedConfig;
  readonly workspaceDir: string;
  readonly stateDir: string;
  readonly logger: Logger;
  /** Host notification for new inbox files; may be replaced at any time. */
  onInboxFiles: InboxCallback | undefined;

  private readonly ops: WorkspaceSyncOperations;
  private readonly clock: Clock;
  private readonly stopTimeoutMs: number;
  private readonly hookWaitMs: number;
  private readonly backupLane: Lane<RunBackupResult>;
  private readonly syncLane: Lane<SyncRunResult>;
  private readonly restores = new Set<Running<RunRestoreResult>>();
  private backupStats = emptyBackupStats();
  private syncStats = emptySyncStats();

  constructor(options: WorkspaceSyncOptions) {
    super();
    this.logger = options.logger ?? silentLogger;
    this.config = loadSyncConfig(options.config, this.logger);
    this.workspaceDir = options.workspaceDir;
    this.stateDir = options.stateDir;
    this.onInboxFiles = options.onInboxFiles;
    this.ops = { ...defaultOperations, ...options.operations };
    this.clock = options.clock ?? systemClock;
    this.backupLane = new Lane(this.clock);
    this.syncLane = new Lane(this.clock);
    this.stopTimeoutMs = options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    this.hookWaitMs = options.hookWaitMs ?? DEFAULT_HOOK_WAIT_MS;
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Starts the schedules: backups when `backup.enabled` and its interval > 0 (whatever the sync
   * provider: a backup-only config schedules backups), periodic sync when the sync provider is on,
   * a mode is set and its interval > 0. Restarting a running part restarts its schedule. Resolves
   * once the timers are armed (the first backup time is read from the state folder).
   */
  async start(parts: ManagerParts = {}): Promise<void> {
    const backup = parts.backup ?? true;
    const sync = parts.sync ?? true;
    if (sync) this.startSyncSchedule();
    if (backup) await this.startBackupSchedule();
  }

  /**
   * Stops the schedules, aborts work in flight (backups, syncs, and on a full stop restores),
   * waits for it to settle (at most `stopTimeoutMs`) and clears every timer it armed. Counters are kept.
   */
  async stop(parts: ManagerParts = {}): Promise<void> {
    const backup = parts.backup ?? true;
    const sync = parts.sync ?? true;
    const full = backup && sync;
    const pending: Promise<unknown>[] = [];
    const reason = new WorkspaceSyncError("ABORTED", "Operation aborted: the workspace-sync manager is stopping");
    if (backup) pending.push(...this.backupLane.halt(reason));
    if (sync) pending.push(...this.syncLane.halt(reason));
    if (full) {
      for (const r of this.restores) {
        r.controller.abort(reason);
        pending.push(r.promise);
      }
    }
    if (pending.length > 0) {
      const settled = await settleWithin(this.clock, Promise.allSettled(pending), this.stopTimeoutMs);
      if (!settled) this.note({ kind: "stop-timeout", timeoutMs: this.stopTimeoutMs });
    }
    if (full) this.note({ kind: "stopped" });
  }

  /** Backup and sync status (the plugin's shapes plus `inProgress` and `nextRunAt`). */
  status(): WorkspaceSyncStatus {
    const at = (ms: number | undefined) => (ms === undefined ? null : new Date(ms));
    return {
      running: this.backupLane.scheduled || this.syncLane.scheduled,
      backup: { running: this.backupLane.scheduled, ...this.backupStats, inProgress: this.backupLane.busy, nextRunAt: at(this.backupLane.nextRunAt) },
      sync: { running: this.syncLane.scheduled, ...this.syncStats, inProgress: this.syncLane.busy, nextRunAt: at(this.syncLane.nextRunAt) },
    };
  }

  /** True while a sync runs through this instance. */
  isSyncing(): boolean {
    return this.syncLane.busy;
  }

  // ---------------------------------------------------------------- on demand

  /**
   * Backs up now. If a backup is already running (scheduled or manual) this returns that run's
   * result instead of starting a second one. Never throws.
   */
  backupNow(): Promise<RunBackupResult> {
    const lane = this.backupLane;
    const joined = lane.busy;
    const gen = lane.generation;
    return this.runBackupExclusive("manual").then((result) => {
      // A manual backup counts as the scheduled one: the next is due one interval after it.
      if (result.ok && !joined) lane.postpone(gen);
      return result;
    });
  }

  /**
   * Runs one full sync in the configured mode now (the mailbox drain included). Waits for a sync
   * already running, then runs; two syncs never run at once. Never throws.
   */
  async syncNow(options: { dryRun?: boolean } = {}): Promise<SyncRunResult> {
    const outcome = await this.runSyncQueued("manual", options.dryRun === true, undefined);
    if (outcome === "busy" || outcome === "stopped") return syncFailure(abortError(new Error("the manager was stopped before the sync could start")));
    return outcome;
  }

  /** Restores a snapshot (`"latest"` or a name) into a staging folder. Aborted by `stop()`. Never throws. */
  async restore(params: { snapshotName: string; restoreTo?: string; onProgress?: ProgressCallback }): Promise<RunRestoreResult> {
    const controller = new AbortController();
    const run: Running<RunRestoreResult> = {
      controller,
      promise: (async () => {
        try {
          return await this.ops.runRestore({
            syncConfig: this.config,
            workspaceDir: this.workspaceDir,
            stateDir: this.stateDir,
            snapshotName: params.snapshotName,
            restoreTo: params.restoreTo,
            logger: this.logger,
            signal: controller.signal,
            onProgress: params.onProgress,
          });
        } catch (err) {
          const e = toWorkspaceSyncError(err);
          this.note({ kind: "unexpected-error", part: "backup", error: e.message });
          return { ok: false as const, error: e.message, code: e.code };
        }
      })(),
    };
    this.restores.add(run);
    try {
      const result = await run.promise;
      if (!result.ok && result.code !== "ABORTED") this.emitError(new WorkspaceSyncError(result.code, result.error), { operation: "restore" });
      return result;
    } finally {
      this.restores.delete(run);
    }
  }

  // ---------------------------------------------------------------- session hooks

  /** Session-start hook: a full sync when `sync.onSessionStart` is on (waits for a running sync, bounded). */
  onSessionStart(): Promise<SessionHookOutcome> {
    return this.sessionHook("start");
  }

  /** Session-end hook: a full sync when `sync.onSessionEnd` is on (waits for a running sync, bounded). */
  onSessionEnd(): Promise<SessionHookOutcome> {
    return this.sessionHook("end");
  }

  private async sessionHook(side: SessionSide): Promise<SessionHookOutcome> {
    const s = this.config.sync;
    const enabled = side === "start" ? s.onSessionStart : s.onSessionEnd;
    if (!enabled) {
      this.note({ kind: "session-disabled", side });
      return { ran: false, reason: "disabled" };
    }
    if (s.provider === "off") return { ran: false, reason: "not-configured" };
    if (!s.mode) {
      this.note({ kind: "session-no-mode", side });
      return { ran: false, reason: "no-mode" };
    }
    this.note({ kind: "session-triggered", side, mode: s.mode });
    const outcome = await this.runSyncQueued(side === "start" ? "session-start" : "session-end", false, this.hookWaitMs);
    if (outcome === "busy") {
      this.note({ kind: "session-busy", side });
      return { ran: false, reason: "busy" };
    }
    if (outcome === "stopped") return { ran: false, reason: "stopped" };
    this.note({ kind: "session-finished", side, ...(outcome.ok ? {} : { error: outcome.error }) });
    return { ran: true, result: outcome };
  }

  // ---------------------------------------------------------------- backup schedule

  private async startBackupSchedule(): Promise<void> {
    const lane = this.backupLane;
    const gen = lane.reset();
    this.backupStats = emptyBackupStats();
    const b = this.config.backup;
    if (!b?.enabled) {
      this.note({ kind: "not-enabled", part: "backup" });
      return;
    }
    const d = decideInterval(b.interval, DEFAULT_BACKUP_INTERVAL_S, MIN_BACKUP_INTERVAL_S);
    if (!d.enabled) {
      this.note({ kind: "schedule-off", part: "backup" });
      return;
    }
    if (d.clamped) this.note({ kind: "interval-clamped", part: "backup", decision: d });
    const intervalMs = d.seconds * 1000;
    lane.begin(gen, intervalMs, () => this.runBackupExclusive("scheduled"));
    this.note({ kind: "schedule-started", part: "backup", seconds: d.seconds });
    const state = await readBackupState(this.stateDir).catch(() => ({}) as Awaited<ReturnType<typeof readBackupState>>);
    if (gen !== lane.generation) return; // stopped or restarted meanwhile
    if (state.lastBackupAt) this.backupStats.lastBackupAt = new Date(state.lastBackupAt);
    if (typeof state.lastBackupOk === "boolean") this.backupStats.lastBackupOk = state.lastBackupOk;
    const delay = firstBackupDelay({ now: this.clock.now(), intervalMs, lastSuccessAt: state.lastSuccessAt, startDelayMs: BACKUP_START_DELAY_MS });
    if (state.lastSuccessAt && delay > BACKUP_START_DELAY_MS) {
      this.note({ kind: "backup-next", lastSuccessAt: state.lastSuccessAt, nextAt: new Date(this.clock.now() + delay) });
    }
    lane.armIn(gen, delay);
  }

  /** Joins the backup in flight or starts one: two backups never run at once. */
  private runBackupExclusive(trigger: BackupTrigger): Promise<RunBackupResult> {
    return this.backupLane.startOrJoin((signal) => this.doBackup(trigger, signal));
  }

  private async doBackup(trigger: BackupTrigger, signal: AbortSignal): Promise<RunBackupResult> {
    const startedAt = this.clock.now();
    this.safeEmit("backup:start", { trigger });
    let result: RunBackupResult;
    try {
      result = await this.ops.runBackup({
        syncConfig: this.config,
        workspaceDir: this.workspaceDir,
        stateDir: this.stateDir,
        logger: this.logger,
        signal,
        now: () => new Date(this.clock.now()),
      });
    } catch (err) {
      const e = signal.aborted ? abortError(signal.reason) : toWorkspaceSyncError(err);
      if (!signal.aborted) this.note({ kind: "unexpected-error", part: "backup", error: e.message });
      result = { ok: false, error: e.message, code: e.code };
    }
    const verdict = judgeRun(result, signal.aborted);
    if (verdict.counted) countBackup(this.backupStats, startedAt, result.ok);
    this.note({
      kind: "backup-finished",
      trigger,
      outcome: verdict.outcome,
      ...(result.ok ? { snapshotName: result.snapshotName, sizeBytes: result.sizeBytes } : { error: result.error }),
    });
    if (verdict.reportError && !result.ok) this.emitError(new WorkspaceSyncError(result.code, result.error), { operation: "backup", trigger });
    this.safeEmit("backup:done", { trigger, result });
    return result;
  }

  // ---------------------------------------------------------------- sync schedule

  private startSyncSchedule(): void {
    const lane = this.syncLane;
    const gen = lane.reset();
    this.syncStats = emptySyncStats();
    const s = this.config.sync;
    if (s.provider === "off") {
      this.note({ kind: "not-enabled", part: "sync" });
      return;
    }
    if (!s.mode) {
      this.note({ kind: "no-mode" });
      return;
    }
    const d = decideInterval(s.interval, DEFAULT_SYNC_INTERVAL_S, MIN_SYNC_INTERVAL_S);
    if (!d.enabled) {
      this.note({ kind: "schedule-off", part: "sync" });
      return;
    }
    if (d.clamped) this.note({ kind: "interval-clamped", part: "sync", decision: d });
    this.note({ kind: "schedule-started", part: "sync", seconds: d.seconds, mode: s.mode });
    lane.begin(gen, d.seconds * 1000, () => this.syncTick());
    lane.armIn(gen, SYNC_START_DELAY_MS);
  }

  /** A scheduled sync; skipped (not queued) while another sync runs. */
  private syncTick(): Promise<unknown> {
    if (this.syncLane.busy) {
      this.note({ kind: "sync-skipped-busy" });
      return Promise.resolve();
    }
    return this.syncLane.start((signal) => this.doSync("scheduled", false, signal));
  }

  /**
   * Waits until no sync runs (at most `waitMs` when given), then starts one. Returns "busy" when
   * the wait ran out and "stopped" when `stop()` was called while waiting.
   */
  private runSyncQueued(trigger: SyncTrigger, dryRun: boolean, waitMs: number | undefined): Promise<SyncRunResult | "busy" | "stopped"> {
    return this.syncLane.runWhenIdle(waitMs, (signal) => this.doSync(trigger, dryRun, signal));
  }

  private async doSync(trigger: SyncTrigger, dryRun: boolean, signal: AbortSignal): Promise<SyncRunResult> {
    const startedAt = this.clock.now();
    this.safeEmit("sync:start", { trigger, dryRun });
    let result: SyncRunResult;
    try {
      result = await this.ops.runSync({
        syncConfig: this.config,
        workspaceDir: this.workspaceDir,
        stateDir: this.stateDir,
        logger: this.logger,
        signal,
        dryRun,
        onInboxFiles: dryRun ? undefined : (files, text) => this.handleInbox(files, text),
      });
    } catch (err) {
      const e = signal.aborted ? abortError(signal.reason) : toWorkspaceSyncError(err);
      if (!signal.aborted) this.note({ kind: "unexpected-error", part: "sync", error: e.message });
      result = syncFailure(e);
    }
    const verdict = judgeRun(result, signal.aborted, dryRun);
    if (verdict.counted) countSync(this.syncStats, startedAt, result.ok);
    this.note({ kind: "sync-finished", trigger, dryRun, outcome: verdict.outcome, ...(result.ok ? { mode: result.mode } : { error: result.error }) });
    if (verdict.reportError && !result.ok) this.emitError(new WorkspaceSyncError(result.code, result.error), { operation: "sync", trigger });
    this.safeEmit("sync:done", { trigger, dryRun, result });
    return result;
  }

  private async handleInbox(files: string[], text: string): Promise<void> {
    this.safeEmit("inbox", { files: [...files], text });
    const notify = this.onInboxFiles;
    if (!this.config.sync.notifyOnInbox || !notify) return;
    try {
      await notify([...files], text);
    } catch (err) {
      this.note({ kind: "inbox-notify-failed", error: errorMessage(err) });
      this.emitError(toWorkspaceSyncError(err), { operation: "inbox" });
    }
  }

  // ---------------------------------------------------------------- plumbing

  private safeEmit<K extends keyof WorkspaceSyncEvents & string>(event: K, ...args: WorkspaceSyncEvents[K]): void {
    try {
      (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args);
    } catch (err) {
      this.note({ kind: "listener-threw", event, error: errorMessage(err) });
    }
  }

  /** Logs what happened; the words are in messages.ts. */
  private note(note: ManagerNote): void {
    logNote(this.logger, note);
  }

  private emitError(error: WorkspaceSyncError, context: ErrorContext): void {
    if (this.listenerCount("error") > 0) this.safeEmit("error", error, context);
  }
}
