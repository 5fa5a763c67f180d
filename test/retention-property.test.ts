/**
 * Property tests over a few hundred random snapshot lists and policies (seeded, so failures
 * reproduce): the plan partitions its input, keeps the newest, respects count bounds, does not depend
 * on listing order, grows monotonically with the policy, and keeps at most one snapshot per bucket
 * (plus the marked oldest).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { planRetention, hourKey, dayKey, isoWeekKey, monthKey, yearKey, COUNT_RULES, WITHIN_RULES } from "../src/retention/index.js";
import { formatSnapshotName } from "../src/snapshot/index.js";
import type { RetainSetting } from "../src/config/types.js";

const CASES = 300;
const NOW = new Date(Date.UTC(2031, 0, 1));

/** mulberry32: a tiny deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Snap {
  name: string;
  time: Date;
  sequence: number;
  id: number;
}

function randomSnapshots(rnd: () => number): Snap[] {
  const n = 1 + Math.floor(rnd() * 60);
  const start = Date.UTC(2027, 11, 20) - rnd() * 3 * 365 * 86_400_000;
  const out: Snap[] = [];
  let t = Math.floor(start / 1000) * 1000;
  const taken = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    // Mostly small steps (same hour/day), sometimes large gaps, sometimes the same second.
    const r = rnd();
    const step = r < 0.1 ? 0 : r < 0.4 ? rnd() * 3_600_000 : r < 0.8 ? rnd() * 3 * 86_400_000 : rnd() * 120 * 86_400_000;
    t += Math.floor(step / 1000) * 1000;
    const sequence = taken.get(t) ?? 0;
    taken.set(t, sequence + 1);
    const time = new Date(t);
    out.push({ name: formatSnapshotName(time, rnd() < 0.5, sequence), time, sequence, id: i });
  }
  // Shuffle: listing order is arbitrary.
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

type ObjectPolicy = Exclude<RetainSetting, number>;

function randomPolicy(rnd: () => number, allowUnlimited: boolean, allowWithin: boolean): ObjectPolicy {
  const p: Record<string, number | string> = {};
  for (const rule of COUNT_RULES) {
    if (rnd() < 0.4) p[rule] = allowUnlimited && rnd() < 0.15 ? -1 : Math.floor(rnd() * 8);
  }
  if (allowWithin) {
    for (const rule of WITHIN_RULES) {
      if (rnd() < 0.2) {
        const parts = [["y", 2], ["m", 14], ["d", 40], ["h", 72]] as const;
        p[rule] = parts.map(([u, max]) => (rnd() < 0.4 ? `${Math.floor(rnd() * max)}${u}` : "")).join("");
      }
    }
  }
  const nonEmpty = Object.entries(p).some(([, v]) => (typeof v === "number" ? v !== 0 : /[1-9]/.test(v)));
  if (!nonEmpty) p[COUNT_RULES[Math.floor(rnd() * COUNT_RULES.length)]!] = 1 + Math.floor(rnd() * 5);
  return p as ObjectPolicy;
}

const newestFirst = (a: Snap, b: Snap) => b.time.getTime() - a.time.getTime() || b.sequence - a.sequence;

test("random plans: partition, newest kept, reasons, order", () => {
  const rnd = prng(20260101);
  for (let c = 0; c < CASES; c++) {
    const snaps = randomSnapshots(rnd);
    const policy = randomPolicy(rnd, true, true);
    const ctx = `case ${c}: ${JSON.stringify(policy)}`;
    const plan = planRetention(snaps, policy, { now: NOW });
    const kept = new Set(plan.keep);
    const pruned = new Set(plan.prune);
    assert.equal(kept.size, plan.keep.length, ctx);
    assert.equal(pruned.size, plan.prune.length, ctx);
    assert.equal(plan.keep.length + plan.prune.length, snaps.length, ctx);
    for (const s of snaps) assert.ok(kept.has(s) !== pruned.has(s), `${ctx}: ${s.name} must be in exactly one list`);
    const newest = [...snaps].sort(newestFirst)[0]!;
    assert.ok(kept.has(newest), `${ctx}: newest ${newest.name} pruned`);
    assert.deepEqual(plan.keep, [...plan.keep].sort(newestFirst), ctx);
    assert.deepEqual(plan.prune, [...plan.prune].sort(newestFirst), ctx);
    assert.equal(Object.keys(plan.reasons).length, plan.keep.length, ctx);
    for (const s of plan.keep) assert.ok((plan.reasons[s.name] ?? []).length > 0, ctx);
  }
});

test("random plans: without -1 and within, kept count <= sum of counts", () => {
  const rnd = prng(7);
  let tight = 0;
  for (let c = 0; c < CASES; c++) {
    const snaps = randomSnapshots(rnd);
    const policy = randomPolicy(rnd, false, false);
    const sum = COUNT_RULES.reduce((acc, r) => acc + ((policy as Record<string, number>)[r] ?? 0), 0);
    const plan = planRetention(snaps, policy, { now: NOW });
    assert.ok(plan.keep.length <= sum, `case ${c}: kept ${plan.keep.length} > ${sum} for ${JSON.stringify(policy)}`);
    if (plan.keep.length === Math.min(sum, snaps.length)) tight++;
  }
  assert.ok(tight > 0); // the bound is reached sometimes, so the generator is not trivially loose
});

test("random plans: listing order does not matter", () => {
  const rnd = prng(99);
  for (let c = 0; c < CASES; c++) {
    const snaps = randomSnapshots(rnd);
    const policy = randomPolicy(rnd, true, true);
    const a = planRetention(snaps, policy, { now: NOW });
    const b = planRetention([...snaps].reverse(), policy, { now: NOW });
    assert.deepEqual(b.keep.map((s) => s.id), a.keep.map((s) => s.id), `case ${c}`);
    assert.deepEqual(Object.entries(b.reasons), Object.entries(a.reasons), `case ${c}`);
  }
});

test("random plans: a larger policy keeps a superset", () => {
  const rnd = prng(4242);
  for (let c = 0; c < CASES; c++) {
    const snaps = randomSnapshots(rnd);
    const small = randomPolicy(rnd, true, true) as Record<string, number | string>;
    const big: Record<string, number | string> = { ...small };
    for (const rule of COUNT_RULES) {
      const v = (big[rule] as number | undefined) ?? 0;
      if (v !== -1 && rnd() < 0.5) big[rule] = rnd() < 0.2 ? -1 : v + Math.floor(rnd() * 5);
    }
    for (const rule of WITHIN_RULES) {
      // Random durations are at most 2y14m40d72h, so 50y is always longer.
      if (rnd() < 0.3) big[rule] = "50y";
    }
    const a = new Set(planRetention(snaps, small as ObjectPolicy, { now: NOW }).keep.map((s) => s.id));
    const b = new Set(planRetention(snaps, big as ObjectPolicy, { now: NOW }).keep.map((s) => s.id));
    for (const id of a) assert.ok(b.has(id), `case ${c}: ${JSON.stringify(small)} kept #${id} but ${JSON.stringify(big)} did not`);
  }
});

test("random plans: a single count rule keeps one snapshot per bucket, plus at most the oldest", () => {
  const rnd = prng(31337);
  const keyOf = { hourly: hourKey, daily: dayKey, weekly: isoWeekKey, monthly: monthKey, yearly: yearKey } as const;
  for (let c = 0; c < CASES; c++) {
    const snaps = randomSnapshots(rnd);
    const rule = (["hourly", "daily", "weekly", "monthly", "yearly"] as const)[c % 5];
    const count = rnd() < 0.2 ? -1 : 1 + Math.floor(rnd() * 10);
    const plan = planRetention(snaps, { [rule]: count }, { now: NOW });
    const sorted = [...snaps].sort(newestFirst);
    const leaders = sorted.filter((s, i) => i === 0 || keyOf[rule](s.time) !== keyOf[rule](sorted[i - 1]!.time));
    const expected = count === -1 ? [...leaders] : leaders.slice(0, count);
    const oldest = sorted.at(-1)!;
    const countLeft = count === -1 || leaders.length < count;
    if (countLeft && !expected.includes(oldest)) expected.push(oldest);
    assert.deepEqual(plan.keep.map((s) => s.id), expected.map((s) => s.id), `case ${c}: ${rule} ${count}`);
    for (const s of plan.keep) {
      const why = s === oldest && !leaders.includes(oldest) ? `oldest ${rule} snapshot` : `${rule} snapshot`;
      assert.deepEqual(plan.reasons[s.name], [why], `case ${c}: ${s.name} ${JSON.stringify(sorted.map((x) => x.name))}`);
    }
  }
});
