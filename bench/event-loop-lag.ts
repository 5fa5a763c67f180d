/**
 * How long a process blocks its event loop: loaded with `node --import
 * ./build/bench/event-loop-lag.js <script> …`, it runs a 10 ms interval timer and prints, at exit,
 * the longest lateness of that timer and every block over 100 ms (its start and length, in ms from
 * the process's start). The README's "Longest block measured" figures come from it, run on the
 * bin's `sync` over the bench's generated folders.
 */
const INTERVAL_MS = 10;
const REPORT_OVER_MS = 100;

let last = performance.now();
let worst = 0;
let worstAt = 0;
const blocks: string[] = [];
const timer = setInterval(() => {
  const now = performance.now();
  const late = now - last - INTERVAL_MS;
  if (late > worst) {
    worst = late;
    worstAt = now;
  }
  if (late > REPORT_OVER_MS) blocks.push(`${Math.round(now - late)}+${Math.round(late)}`);
  last = now;
}, INTERVAL_MS);
timer.unref();
process.on("exit", () => {
  process.stderr.write(`event loop: longest block ${worst.toFixed(0)} ms (ending at ${worstAt.toFixed(0)} ms); blocks over ${REPORT_OVER_MS} ms (start+length): ${blocks.join(" ") || "none"}\n`);
});
