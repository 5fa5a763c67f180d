/**
 * Everything the manager logs, as data ({@link ManagerNote}) and its wording ({@link formatNote}).
 * The manager decides what happened and notes it; this file alone decides the words and the level
 * (the plugin's wording, which hosts and tests match). Pure, no I/O besides {@link logNote}.
 */
import type { Logger } from "../logger.js";
import type { BackupTrigger, SyncTrigger } from "./events.js";
import type { RunOutcome } from "./verdict.js";
import { clampWarning, type IntervalDecision } from "./schedule.js";

/** Which schedule a note is about (its log prefix). */
export type Part = "backup" | "sync";
/** A session hook. */
export type SessionSide = "start" | "end";

/** One thing worth a log line. */
export type ManagerNote =
  | { kind: "config-rejected"; error: string }
  | { kind: "stop-timeout"; timeoutMs: number }
  | { kind: "stopped" }
  | { kind: "unexpected-error"; part: Part; error: string }
  | { kind: "session-disabled"; side: SessionSide }
  | { kind: "session-no-mode"; side: SessionSide }
  | { kind: "session-triggered"; side: SessionSide; mode: string }
  | { kind: "session-busy"; side: SessionSide }
  | { kind: "session-finished"; side: SessionSide; error?: string }
  | { kind: "not-enabled"; part: Part }
  | { kind: "no-mode" }
  | { kind: "schedule-off"; part: Part }
  | { kind: "interval-clamped"; part: Part; decision: IntervalDecision & { enabled: true } }
  | { kind: "schedule-started"; part: Part; seconds: number; mode?: string }
  | { kind: "backup-next"; lastSuccessAt: string; nextAt: Date }
  | { kind: "backup-finished"; trigger: BackupTrigger; outcome: RunOutcome; snapshotName?: string; sizeBytes?: number; error?: string }
  | { kind: "sync-skipped-busy" }
  | { kind: "sync-finished"; trigger: SyncTrigger; dryRun: boolean; outcome: RunOutcome; mode?: string; error?: string }
  | { kind: "inbox-notify-failed"; error: string }
  | { kind: "listener-threw"; event: string; error: string };

/** A formatted note. */
export interface LogLine {
  level: "debug" | "info" | "warn" | "error";
  text: string;
}

const PREFIX: Readonly<Record<Part, string>> = { backup: "[backup]", sync: "[workspace-sync]" };
const WS = PREFIX.sync;

const line = (level: LogLine["level"], text: string): LogLine => ({ level, text });

/** The log line of a note, or undefined when the note is not logged (e.g. a dry run's end). */
export function formatNote(note: ManagerNote): LogLine | undefined {
  switch (note.kind) {
    case "config-rejected":
      return line("error", `${WS} ${note.error}`);
    case "stop-timeout":
      return line("warn", `${WS} Stop: work in flight did not finish within ${Math.round(note.timeoutMs / 1000)}s after being cancelled; not waiting longer`);
    case "stopped":
      return line("info", `${WS} service stopped`);
    case "unexpected-error":
      return line("error", note.part === "backup" ? `[backup] Unexpected error: ${note.error}` : `${WS} Periodic sync error: ${note.error}`);
    case "session-disabled":
      return line("debug", `${WS} session ${note.side} sync is off (sync.onSession${note.side === "start" ? "Start" : "End"} = false)`);
    case "session-no-mode":
      return line("warn", `${WS} mode not set, skipping session ${note.side} sync`);
    case "session-triggered":
      return line("info", `${WS} triggered on session ${note.side} (mode: ${note.mode})`);
    case "session-busy":
      return line("info", `${WS} sync already in progress, skipping session ${note.side} trigger`);
    case "session-finished":
      return note.error === undefined ? line("info", `${WS} session ${note.side} sync completed`) : line("error", `${WS} sync failed: ${note.error}`);
    case "not-enabled":
      return note.part === "backup" ? line("debug", "[backup] Backups not enabled; nothing scheduled") : line("info", `${WS} Workspace sync not configured`);
    case "no-mode":
      return line(
        "error",
        `${WS} BREAKING: "mode" is now required. Set "mode": "mailbox" (inbox/outbox, safest), "mode": "mirror" (remote→local), or "mode": "bisync" (bidirectional) in your config. Sync will not start until mode is explicitly set.`,
      );
    case "schedule-off":
      return line("info", note.part === "backup" ? "[backup] Scheduled backups disabled (interval=0)" : `${WS} Periodic sync disabled (interval=0)`);
    case "interval-clamped":
      return line("warn", `${PREFIX[note.part]} ${clampWarning(note.decision)}`);
    case "schedule-started":
      return line(
        "info",
        note.part === "backup"
          ? `[backup] Backup service started — every ${note.seconds}s`
          : `${WS} Starting periodic sync every ${note.seconds}s in ${note.mode} mode (pure file sync, zero LLM cost)`,
      );
    case "backup-next":
      return line("info", `[backup] Last successful backup ${note.lastSuccessAt}; next backup at ${note.nextAt.toISOString()}`);
    case "backup-finished": {
      const label = note.trigger === "scheduled" ? "Scheduled backup" : "Backup";
      if (note.outcome === "cancelled") return line("info", `[backup] ${label} cancelled`);
      if (note.outcome === "failed") return line("error", `[backup] ${label} failed: ${note.error}`);
      return line("info", `[backup] ${label} complete: ${note.snapshotName} (${((note.sizeBytes ?? 0) / 1024 / 1024).toFixed(1)} MB)`);
    }
    case "sync-skipped-busy":
      return line("info", `${WS} Sync already in progress, skipping this cycle`);
    case "sync-finished":
      // Manual and session syncs report to their caller (the hooks log their own line); only the schedule logs here.
      if (note.outcome === "cancelled") return line("info", `${WS} Sync cancelled`);
      if (note.dryRun || note.trigger !== "scheduled") return undefined;
      return note.outcome === "failed" ? line("warn", `${WS} Periodic sync failed: ${note.error}`) : line("info", `${WS} Periodic ${note.mode} completed`);
    case "inbox-notify-failed":
      return line("warn", `${WS} Inbox notification error: ${note.error}`);
    case "listener-threw":
      return line("warn", `${WS} A "${note.event}" listener threw: ${note.error}`);
  }
}

/** Logs a note through `logger` (debug lines only when the logger has `debug`). */
export function logNote(logger: Logger, note: ManagerNote): void {
  const l = formatNote(note);
  if (!l) return;
  if (l.level === "debug") logger.debug?.(l.text);
  else logger[l.level](l.text);
}
