/**
 * Which provider objects hand their read chunks over to be freed (`ReadOptions.handOver`, see
 * `util/release-buffer.ts`): only ones this library built. A provider a caller passes in, even one
 * that wraps ours and passes the options through, may keep the chunks it hands on (a tee, a cache,
 * a hash computed later), which freeing would empty; so the snapshot reader asks only these.
 */
import type { StorageProvider } from "./types.js";

const handingOver = new WeakSet<StorageProvider>();

/** Records that `provider` (built here) hands its read chunks over when asked. */
export function markHandsOverReads(provider: StorageProvider): void {
  handingOver.add(provider);
}

/** Whether `provider` is one of ours that hands its read chunks over when asked. */
export function handsOverReads(provider: StorageProvider): boolean {
  return handingOver.has(provider);
}
