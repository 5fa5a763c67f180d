/**
 * The `Lane` timer state machine on its own, driven by a ManualClock: chained ticks (the next
 * armed only after a run settles), one run at a time, stale generations ignored, a manual run
 * postponing the armed tick, and halt() aborting the run and leaving no timer.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../src/manager/index.js";
import { Lane } from "../src/manager/lane.js";
import { settle } from "./manager-helpers.js";

/** A run that stays pending until `finish()` (or its signal aborts). */
function gate() {
  const runs: { finish(v: string): void; signal: AbortSignal }[] = [];
  let active = 0;
  let maxActive = 0;
  const work = (signal: AbortSignal) =>
    new Promise<string>((resolve) => {
      active++;
      maxActive = Math.max(maxActive, active);
      const done = (v: string) => {
        active--;
        resolve(v);
      };
      let settled = false;
      const once = (v: string) => {
        if (!settled) {
          settled = true;
          done(v);
        }
      };
      signal.addEventListener("abort", () => once("aborted"), { once: true });
      runs.push({ finish: once, signal });
    });
  return { runs, work, max: () => maxActive };
}

test("ticks are chained: the next is armed one interval after the run settles, never while it runs", async () => {
  const clock = new ManualClock();
  const lane = new Lane<string>(clock);
  const g = gate();
  const gen = lane.reset();
  assert.ok(lane.begin(gen, 60_000, () => lane.startOrJoin(g.work)));
  lane.armIn(gen, 1000);
  assert.equal(lane.nextRunAt, clock.now() + 1000);
  await clock.advance(1000);
  assert.equal(g.runs.length, 1);
  assert.ok(lane.busy);
  assert.equal(clock.pendingTimers(), 0, "no timer while the run is in flight");
  await clock.advance(600_000);
  assert.equal(g.runs.length, 1, "a long run delays the next tick instead of overlapping");
  g.runs[0]!.finish("one");
  await settle();
  assert.equal(lane.busy, false);
  assert.deepEqual(clock.pendingDelays(), [60_000]);
  await clock.advance(60_000);
  assert.equal(g.runs.length, 2);
  assert.equal(g.max(), 1);
  g.runs[1]!.finish("two");
  await settle();
  assert.equal(clock.pendingTimers(), 1);
});

test("postpone moves an armed tick one interval from now; stale generations do nothing", async () => {
  const clock = new ManualClock();
  const lane = new Lane<string>(clock);
  const g = gate();
  const gen = lane.reset();
  lane.begin(gen, 10_000, () => lane.startOrJoin(g.work));
  lane.armIn(gen, 10_000);
  await clock.advance(4000);
  lane.postpone(gen);
  assert.deepEqual(clock.pendingDelays(), [10_000]);
  const next = lane.reset();
  assert.equal(clock.pendingTimers(), 0, "reset clears the timer");
  assert.equal(lane.scheduled, false);
  lane.armIn(gen, 5); // the old generation
  lane.postpone(gen);
  assert.equal(lane.begin(gen, 1, () => Promise.resolve()), false);
  assert.equal(clock.pendingTimers(), 0);
  assert.ok(next > gen);
});

test("runWhenIdle: waiters run one after another, a bounded wait reports busy, halt reports stopped and leaves nothing armed", async () => {
  const clock = new ManualClock();
  const lane = new Lane<string>(clock);
  const g = gate();
  const first = lane.start(g.work);
  const a = lane.runWhenIdle(undefined, g.work);
  const b = lane.runWhenIdle(undefined, g.work);
  const bounded = lane.runWhenIdle(5000, g.work);
  await clock.advance(5000);
  assert.equal(await bounded, "busy");
  g.runs[0]!.finish("first");
  assert.equal(await first, "first");
  await settle();
  assert.equal(g.runs.length, 2, "exactly one waiter started");
  g.runs[1]!.finish("second");
  await settle();
  assert.equal(g.runs.length, 3);
  assert.equal(g.max(), 1, "never two runs at once");
  const waiting = lane.runWhenIdle(undefined, g.work);
  const gen = lane.reset();
  lane.begin(gen, 1000, () => lane.startOrJoin(g.work));
  lane.armIn(gen, 1000);
  const pending = lane.halt(new Error("stopping"));
  assert.equal(pending.length, 1);
  await Promise.all(pending);
  assert.equal(g.runs[2]!.signal.aborted, true);
  assert.equal(await waiting, "stopped");
  assert.deepEqual(await Promise.all([a, b]).then((r) => r.sort()), ["aborted", "second"]);
  assert.equal(clock.pendingTimers(), 0);
  assert.equal(lane.scheduled, false);
  assert.equal(lane.busy, false);
});
