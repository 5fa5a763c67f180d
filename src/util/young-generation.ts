/**
 * The sync command's memory policy for V8's young generation.
 *
 * V8 grows the young generation (two semi-spaces) to its maximum, 16 MiB each on Node 20 and 32 MiB
 * on Node 24, as soon as a burst of allocations survives, and a sync run starts with one: parsing
 * the state of every file. That is 30–60 MiB of resident memory for the rest of the run, a third
 * of a 40 000-file sync's peak. Kept at its starting size (1 MiB semi-spaces) the same runs peak
 * at 98 instead of 128 MiB (40 000 files) and 142 instead of 173 MiB (100 000 files) on Node 20, in
 * the same time: what survives goes to the old generation after one or two scavenges instead of
 * being copied back and forth in a large new space.
 *
 * The setting is process-wide, so only processes of our own call it (the CLI's `sync`); a library
 * must not change its host's heap. A host can get the same with `node --max-semi-space-size=1`.
 */
import v8 from "node:v8";

/** Keeps the young generation at its starting size for the rest of this process (Node 20, 22 and 24). */
export function keepYoungGenerationSmall(): void {
  // `--max-semi-space-size` only counts at start-up; the growth factor is read on each growth.
  v8.setFlagsFromString("--semi-space-growth-factor=1");
}
