/**
 * The memory policy for V8's heap of the bin's long, memory-bound commands: `sync`, `backup restore`
 * and `backup verify`; and for `sync`, which of V8's compilers run (see {@link applyMidTierPolicy}).
 *
 * Young generation: V8 grows it (two semi-spaces) to its maximum, 16 MiB each on Node 20 and 32 MiB
 * on Node 24, as soon as a burst of allocations survives, and a sync run starts with one: parsing
 * the state of every file. That is 30–60 MiB of resident memory for the rest of the run, a third
 * of a 40 000-file sync's peak. Kept at its starting size (1 MiB semi-spaces) the same runs peak
 * at 98 instead of 128 MiB (40 000 files) and 142 instead of 173 MiB (100 000 files) on Node 20, in
 * the same time: what survives goes to the old generation after one or two scavenges instead of
 * being copied back and forth in a large new space.
 *
 * Old generation: after each full collection V8 lets the old generation grow to up to four times
 * what survived before it collects again, when collecting is fast, as it is on a heap of tens of
 * MiB. A first sync promotes what its transfers had in flight, which dies there: the heap of a
 * 40 000-file first sync held ~15 MiB of such garbage at its peak. Growing by at most a quarter,
 * the first sync peaks at 88–89 instead of 104 MiB (40 000 files) and 134 instead of 141 MiB
 * (100 000 files) on Node 20; the full collections this adds took ~5–15 ms in all. Node 24 marks
 * concurrently, so its heap also grows while the marking threads catch up: 100–104 instead of
 * 108 MiB there.
 *
 * Restore and verify: ~2.5 GB of fresh Buffers pass through a restore of a 1 GB snapshot (source
 * reads, decrypted pieces, zlib's output), each freed only when a collection finds its small JS
 * object dead. A restore of the bench set peaked at 144–151 MiB without the policy (over the 150
 * MiB the issue allows on some runs); with it, on the main thread and on the restore's helper
 * thread (which applies it again, see {@link smallHeapPolicyApplied}), at 128–130 MiB, at the
 * same CPU within the noise. Most of those Buffers are now freed by their last reader instead
 * (`release-buffer.ts`): 103–106 MiB with the policy; the library call, without it, 120–129 MiB.
 *
 * The settings are process-wide, so only processes of our own call this (the bin's commands above);
 * a library must not change its host's heap. A host gets the same with
 * `node --max-semi-space-size=1 --heap-growing-percent=25` (and, for a sync on a Node built with
 * Maglev, `--no-turbofan`).
 */
import v8 from "node:v8";

/** Growth of the old generation allowed between two full collections, in percent of what survived. */
export const OLD_GENERATION_GROWTH_PERCENT = 25;

/** Commands of the bin that run under this policy (by their words, as `commandKey` gives them). */
export const SMALL_HEAP_COMMANDS: readonly string[] = ["sync", "backup restore", "backup verify"];

let applied = false;

/**
 * Whether this process runs under the policy. A worker thread the process starts then applies it
 * again on its own thread (see `backup/restore-thread.ts`): set from the main thread only, it left
 * a restore's helper thread growing its young generation (a restore of the bench set: 138–149 MiB;
 * applied on the helper thread as well, 128–130 MiB).
 */
export function smallHeapPolicyApplied(): boolean {
  return applied;
}

/** Commands of the bin that run without V8's top compiler where Maglev is there (see {@link applyMidTierPolicy}). */
export const MID_TIER_COMMANDS: readonly string[] = ["sync"];

/** Node options that choose V8's compilers: where the process was started with one, its choice stands. */
const COMPILER_OPTIONS = /--(?:no[-_])?(?:maglev|turbofan|opt|jitless|lite[-_]mode)\b|--max[-_]opt\b/;

/**
 * Whether this Node runs V8's mid-tier compiler, Maglev: built with it (Node 24; Node 22 from
 * 22.9 and Node 20 are built without it, as are Node 24 builds for some processors) and not
 * started with options that choose the compilers (`--no-maglev`, `--jitless`, `--max-opt`, …,
 * on the command line or in `NODE_OPTIONS`).
 */
export function maglevTakesHotCode(
  variables: Readonly<Record<string, unknown>> = process.config.variables as unknown as Record<string, unknown>,
  options: string = `${process.execArgv.join(" ")} ${process.env.NODE_OPTIONS ?? ""}`,
): boolean {
  return (variables.v8_enable_maglev === 1 || variables.v8_enable_maglev === true) && !COMPILER_OPTIONS.test(options);
}

/**
 * Leaves out Turbofan, V8's optimizing top tier, for the rest of this process's life where
 * Maglev (the mid tier) takes hot code instead ({@link maglevTakesHotCode}); elsewhere changes
 * nothing. Returns whether it did.
 *
 * A sync spends its time in system calls and short loops over each file, and on two cores
 * Turbofan's compile jobs take the core the walk's thread uses. A no-change mirror of 40 000
 * files on Node 24 peaked at 91–94 MiB in 0.39–0.46 s with it, 83–85 MiB in 0.35–0.45 s
 * without (taking turns, whole processes; rclone 60–63 MiB), and the walk's thread gets no
 * Turbofan either (flags are the process's). On Node 20 and 22, without Maglev, the same run
 * took 0.58 against 0.49 s and 0.47 against 0.43 s without Turbofan: there it stays. V8 reads
 * this flag at each tiering decision (code Turbofan already made stays until it deoptimizes),
 * unlike `--max-opt`, which counts only at start-up.
 */
export function applyMidTierPolicy(): boolean {
  if (!maglevTakesHotCode()) return false;
  v8.setFlagsFromString("--no-turbofan");
  return true;
}

/**
 * Sets the small-heap policy's flags again where this process applied it. V8 raises the young
 * generation's growth factor back to 2 whenever it configures a new isolate's heap, that is each
 * time a worker thread starts, and the process's own young generation then grew again: a first
 * sync of 1 500 files through the bin, new space 8 MiB in 3 of 12 runs once its copy thread had
 * started, against 2–4 MiB. `startWorker` calls this once a thread is up; the walk, restore and
 * copy threads also apply the policy first thing on their own.
 */
export function reapplySmallHeapPolicy(): void {
  if (applied) applySmallHeapPolicy();
}

/** Applies the heap policy to this process for the rest of its life (Node 20, 22 and 24). */
export function applySmallHeapPolicy(): void {
  applied = true;
  // `--max-semi-space-size` only counts at start-up; the growth factor is read on each growth.
  v8.setFlagsFromString("--semi-space-growth-factor=1");
  // Read each time V8 sets the next limit, after every full collection.
  v8.setFlagsFromString(`--heap-growing-percent=${OLD_GENERATION_GROWTH_PERCENT}`);
}
