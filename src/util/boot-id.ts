/**
 * This boot of the machine, where the OS tells it (Linux: `/proc/sys/kernel/random/boot_id`), so a
 * record can say whether it was written before the last restart. `undefined` elsewhere.
 */
import fs from "node:fs";

let cached: string | null | undefined;

/** The current boot's id (read once per process), or `undefined` when the OS does not expose one. */
export function bootId(): string | undefined {
  if (cached === undefined) {
    try {
      const text = fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
      cached = /^[0-9a-f-]{16,64}$/i.test(text) ? text : null;
    } catch {
      cached = null;
    }
  }
  return cached ?? undefined;
}
