import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { planSync, conflictName, contentCheckCandidates, sortedUnion, type PlanOptions } from "../src/sync/plan.js";
import { planIngest, numberedName } from "../src/sync/ingest.js";
import { checkSafety } from "../src/sync/safety.js";
import { createFilter } from "../src/sync/filters.js";
import { isSafeRelativePath } from "../src/sync/listing.js";
import { Minimatch } from "minimatch";
import { formatInboxNotification } from "../src/sync/mailbox.js";
import type { LocalFile, RemoteFile, StateEntry, SyncAction } from "../src/sync/types.js";

// One path "f"; the state says both sides agreed on size 1 / mtime 1000 / revision r1.
const S: StateEntry = { local: { size: 1, mtimeMs: 1000 }, remote: { size: 1, mtimeMs: 1000, revision: "r1" } };
type LState = "absent" | "new" | "unchanged" | "changed" | "deleted";
type RState = LState;

function localOf(s: LState, path = "f"): LocalFile | undefined {
  switch (s) {
    case "new":
      return { path, size: 5, mtimeMs: 2000 };
    case "unchanged":
      return { path, size: 1, mtimeMs: 1000 };
    case "changed":
      return { path, size: 2, mtimeMs: 2000 };
    default:
      return undefined;
  }
}
function remoteOf(s: RState, path = "f"): RemoteFile | undefined {
  switch (s) {
    case "new":
      return { path, size: 6, mtimeMs: 3000, revision: "rn" };
    case "unchanged":
      return { path, size: 1, mtimeMs: 1000, revision: "r1" };
    case "changed":
      return { path, size: 1, mtimeMs: 3000, revision: "r2" }; // same size, new revision
    default:
      return undefined;
  }
}
const hasState = (s: LState): boolean => s === "unchanged" || s === "changed" || s === "deleted";

function plan(l: LState, r: RState, options: Partial<PlanOptions> & Pick<PlanOptions, "mode">): SyncAction[] {
  const local = new Map<string, LocalFile>();
  const remote = new Map<string, RemoteFile>();
  const lf = localOf(l);
  const rf = remoteOf(r);
  if (lf) local.set("f", lf);
  if (rf) remote.set("f", rf);
  const state: Record<string, StateEntry> = hasState(l) || hasState(r) ? { f: S } : {};
  return planSync(local, remote, state, options).actions;
}
const kinds = (actions: SyncAction[]): string => actions.map((a) => (a.kind === "conflict" ? `conflict:${a.winner}` : a.kind)).join(",") || "none";

describe("planSync bisync", () => {
  // [local, remote, expected]
  const table: Array<[LState, RState, string]> = [
    ["unchanged", "unchanged", "same"],
    ["unchanged", "changed", "download"],
    ["unchanged", "deleted", "deleteLocal"],
    ["changed", "unchanged", "upload"],
    ["changed", "changed", "conflict:remote"], // remote mtime 3000 is newer than local 2000
    ["changed", "deleted", "upload"],
    ["deleted", "unchanged", "deleteRemote"],
    ["deleted", "changed", "download"],
    ["deleted", "deleted", "none"],
    ["new", "absent", "upload"],
    ["absent", "new", "download"],
    ["absent", "absent", "none"],
  ];
  for (const [l, r, expected] of table) {
    it(`local ${l} + cloud ${r} → ${expected}`, () => {
      assert.equal(kinds(plan(l, r, { mode: "bisync" })), expected);
    });
  }

  it("new on both sides with different content is a conflict (no state)", () => {
    const actions = planSync(new Map([["f", localOf("new")!]]), new Map([["f", remoteOf("new")!]]), undefined, { mode: "bisync" }).actions;
    assert.equal(kinds(actions), "conflict:remote");
    assert.equal((actions[0] as { loserPath: string }).loserPath, "f.conflict");
  });

  it("new on both sides with equal hashes is nothing to do", () => {
    const l: LocalFile = { path: "f", size: 3, mtimeMs: 1, hash: "h" };
    const r: RemoteFile = { path: "f", size: 3, mtimeMs: 9, hash: "h" };
    assert.equal(kinds(planSync(new Map([["f", l]]), new Map([["f", r]]), undefined, { mode: "bisync" }).actions), "same");
  });

  it("changed on both sides but found equal by the runner is nothing to do", () => {
    const l: LocalFile = { path: "f", size: 1, mtimeMs: 2000 };
    const actions = planSync(new Map([["f", l]]), new Map([["f", remoteOf("changed")!]]), { f: S }, { mode: "bisync", equalContent: new Set(["f"]) }).actions;
    assert.equal(kinds(actions), "same");
  });

  it("equal sizes but unequal hashes are still a conflict", () => {
    const l: LocalFile = { path: "f", size: 3, mtimeMs: 1, hash: "a" };
    const r: RemoteFile = { path: "f", size: 3, mtimeMs: 9, hash: "b" };
    assert.equal(kinds(planSync(new Map([["f", l]]), new Map([["f", r]]), undefined, { mode: "bisync" }).actions), "conflict:remote");
  });

  it("conflictResolve local / remote / newer tie", () => {
    assert.equal(kinds(plan("changed", "changed", { mode: "bisync", conflictResolve: "local" })), "conflict:local");
    assert.equal(kinds(plan("changed", "changed", { mode: "bisync", conflictResolve: "remote" })), "conflict:remote");
    const l: LocalFile = { path: "f", size: 2, mtimeMs: 3000 };
    const tie = planSync(new Map([["f", l]]), new Map([["f", remoteOf("changed")!]]), { f: S }, { mode: "bisync" }).actions;
    assert.equal(kinds(tie), "conflict:local");
    const noMtime = planSync(new Map([["f", l]]), new Map([["f", { path: "f", size: 9 }]]), undefined, { mode: "bisync" }).actions;
    assert.equal(kinds(noMtime), "conflict:local");
  });

  it("safe merge (noDeletes) copies back instead of deleting", () => {
    assert.equal(kinds(plan("unchanged", "deleted", { mode: "bisync", noDeletes: true })), "upload");
    assert.equal(kinds(plan("deleted", "unchanged", { mode: "bisync", noDeletes: true })), "download");
  });

  it("without state nothing is ever deleted", () => {
    const local = new Map([["a", { path: "a", size: 1, mtimeMs: 1 }]]);
    const remote = new Map([["b", { path: "b", size: 1, mtimeMs: 1 }]]);
    const actions = planSync(local, remote, undefined, { mode: "bisync" }).actions;
    assert.deepEqual(actions.map((a) => `${a.kind}:${a.path}`), ["upload:a", "download:b"]);
  });

  it("conflict copies avoid names already used on either side", () => {
    const local = new Map<string, LocalFile>([
      ["f", localOf("changed")!],
      ["f.conflict", { path: "f.conflict", size: 1, mtimeMs: 1 }],
    ]);
    const remote = new Map<string, RemoteFile>([
      ["f", remoteOf("changed")!],
      ["f.conflict1", { path: "f.conflict1", size: 1 }],
    ]);
    const actions = planSync(local, remote, { f: S }, { mode: "bisync" }).actions;
    const c = actions.find((a) => a.kind === "conflict") as { loserPath: string };
    assert.equal(c.loserPath, "f.conflict2");
    assert.equal(conflictName("x", new Set(["x.conflict"])), "x.conflict1");
  });

  it("case-insensitive keys: the conflict name keeps the file's own spelling", () => {
    const local = new Map([["readme.md", { path: "README.md", size: 2, mtimeMs: 5000 }]]);
    const remote = new Map([["readme.md", { path: "readme.md", size: 3, mtimeMs: 1 }]]);
    const actions = planSync(local, remote, undefined, { mode: "bisync", keyOf: (p) => p.toLowerCase() }).actions;
    assert.equal((actions[0] as { loserPath: string }).loserPath, "README.md.conflict");
  });
});

for (const mode of ["mirror", "mailbox"] as const) {
  describe(`planSync ${mode} push`, () => {
    const table: Array<[LState, RState, string]> = [
      ["unchanged", "unchanged", "same"],
      ["changed", "unchanged", "upload"],
      ["unchanged", "changed", "upload"], // the workspace is the source of truth
      ["changed", "changed", "upload"],
      ["unchanged", "deleted", "upload"],
      ["changed", "deleted", "upload"],
      ["deleted", "unchanged", "deleteRemote"],
      ["deleted", "changed", "skip"], // edited in the cloud since pushed: left alone
      ["deleted", "deleted", "none"],
      ["new", "absent", "upload"],
      ["absent", "new", "skip"], // cloud-only, never pushed by us: left alone
      ["new", "new", "upload"],
    ];
    for (const [l, r, expected] of table) {
      it(`local ${l} + cloud ${r} → ${expected}`, () => {
        assert.equal(kinds(plan(l, r, { mode })), expected);
      });
    }

    it("first push (no state) never deletes cloud-only files", () => {
      const remote = new Map([
        ["a", { path: "a", size: 1 }],
        ["b/c", { path: "b/c", size: 1 }],
      ]);
      const actions = planSync(new Map(), remote, undefined, { mode }).actions;
      assert.deepEqual(actions.map((a) => a.kind), ["skip", "skip"]);
    });

    it("a paused deletion keeps the state entry for a later run", () => {
      const actions = plan("deleted", "unchanged", { mode, noDeletes: true });
      assert.equal(actions.length, 1);
      assert.deepEqual({ kind: actions[0]!.kind, keep: (actions[0] as { keepState?: boolean }).keepState }, { kind: "skip", keep: true });
    });

    it("identical content without state needs no upload", () => {
      const l: LocalFile = { path: "f", size: 3, mtimeMs: 1 };
      const r: RemoteFile = { path: "f", size: 3, mtimeMs: 9 };
      assert.equal(kinds(planSync(new Map([["f", l]]), new Map([["f", r]]), undefined, { mode, equalContent: new Set(["f"]) }).actions), "same");
    });
  });
}

describe("planSync protected folders", () => {
  it("mailbox ignores _inbox/ and _outbox/ on both sides", () => {
    const local = new Map([
      ["_inbox/a", { path: "_inbox/a", size: 1, mtimeMs: 1 }],
      ["_outbox/b", { path: "_outbox/b", size: 1, mtimeMs: 1 }],
      ["c", { path: "c", size: 1, mtimeMs: 1 }],
    ]);
    const remote = new Map([
      ["_outbox/x", { path: "_outbox/x", size: 1 }],
      ["_inbox/y", { path: "_inbox/y", size: 1 }],
    ]);
    const state = { "_inbox/old": S };
    const actions = planSync(local, remote, state, { mode: "mailbox", protectedPrefixes: ["_inbox/", "_outbox/"] }).actions;
    assert.deepEqual(actions.map((a) => `${a.kind}:${a.path}`), ["upload:c"]);
  });

  it("mirror with ingest ignores the ingest folder", () => {
    const remote = new Map([["inbox/x", { path: "inbox/x", size: 1 }]]);
    const local = new Map([["inbox/y", { path: "inbox/y", size: 1, mtimeMs: 1 }]]);
    assert.deepEqual(planSync(local, remote, {}, { mode: "mirror", protectedPrefixes: ["inbox/"] }).actions, []);
  });
});

describe("contentCheckCandidates", () => {
  it("lists same-size pairs without state or changed since it", () => {
    const local = new Map<string, LocalFile>([
      ["a", { path: "a", size: 1, mtimeMs: 5 }],
      ["b", { path: "b", size: 1, mtimeMs: 1000 }],
      ["c", { path: "c", size: 2, mtimeMs: 5 }],
    ]);
    const remote = new Map<string, RemoteFile>([
      ["a", { path: "a", size: 1 }],
      ["b", { path: "b", size: 1, mtimeMs: 1000, revision: "r1" }],
      ["c", { path: "c", size: 3 }],
    ]);
    assert.deepEqual(contentCheckCandidates(local, remote, { b: S }), ["a"]);
  });
});

describe("planIngest", () => {
  const r = (p: string, size = 1, revision = "r1"): RemoteFile => ({ path: p, size, revision });
  it("downloads new files, keeps already ingested ones, records equal ones", () => {
    const remote = new Map([
      ["inbox/new", r("inbox/new")],
      ["inbox/old", r("inbox/old")],
      ["inbox/same", r("inbox/same", 4)],
      ["inbox/clash", r("inbox/clash", 4)],
      ["inbox/updated", r("inbox/updated", 1, "r2")],
    ]);
    const local = new Map<string, LocalFile>([
      ["inbox/same", { path: "inbox/same", size: 4, mtimeMs: 1 }],
      ["inbox/clash", { path: "inbox/clash", size: 4, mtimeMs: 1 }],
    ]);
    const ingested = { "inbox/old": { size: 1, revision: "r1" }, "inbox/updated": { size: 1, revision: "r1" } };
    const steps = planIngest(remote, local, ingested, new Set(["inbox/same"]));
    assert.deepEqual(
      steps.map((s) => `${s.kind}:${s.path}`),
      ["download:inbox/clash", "download:inbox/new", "keep:inbox/old", "record:inbox/same", "download:inbox/updated"],
    );
  });
  it("an ingested file deleted locally is not brought back", () => {
    const steps = planIngest(new Map([["inbox/a", r("inbox/a")]]), new Map(), { "inbox/a": { size: 1, revision: "r1" } });
    assert.deepEqual(steps, [{ kind: "keep", path: "inbox/a" }]);
  });
  it("numberedName puts the number before the extension", () => {
    assert.equal(numberedName("a.pdf", 1), "a (1).pdf");
    assert.equal(numberedName("d/e/report.tar.gz", 2), "d/e/report.tar (2).gz");
    assert.equal(numberedName("d/.bashrc", 1), "d/.bashrc (1)");
    assert.equal(numberedName("noext", 3), "noext (3)");
  });
});

describe("checkSafety", () => {
  const base = { localCount: 10, remoteCount: 10, stateCount: 10, maxDelete: 50, workspace: "/ws", remote: "cloud", statePath: "/s" };
  const del = (kind: "deleteLocal" | "deleteRemote", n: number): SyncAction[] => Array.from({ length: n }, (_, i) => ({ kind, path: `f${i}`, reason: "" }));
  it("allows up to maxDelete percent", () => {
    assert.equal(checkSafety({ ...base, actions: del("deleteRemote", 5) }), undefined);
    assert.equal(checkSafety({ ...base, actions: del("deleteLocal", 5) }), undefined);
  });
  it("aborts above maxDelete on either side", () => {
    const e1 = checkSafety({ ...base, actions: del("deleteRemote", 6) });
    assert.equal(e1?.code, "SYNC_SAFETY_ABORT");
    assert.match(e1!.message, /6 of 10 files in the cloud/);
    const e2 = checkSafety({ ...base, actions: del("deleteLocal", 6) });
    assert.match(e2!.message, /6 of 10 files in the workspace/);
    assert.equal(checkSafety({ ...base, maxDelete: 100, actions: del("deleteLocal", 10) }), undefined);
  });
  it("aborts when a side lists empty but the state had files", () => {
    assert.match(checkSafety({ ...base, localCount: 0, actions: [] })!.message, /workspace \/ws lists no files/);
    assert.match(checkSafety({ ...base, remoteCount: 0, actions: [] })!.message, /cloud folder cloud lists no files/);
    assert.equal(checkSafety({ ...base, stateCount: 0, localCount: 0, actions: [] }), undefined);
  });
});

describe("sortedUnion", () => {
  it("is the sorted set of all keys, whatever order each source comes in", () => {
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const alphabet = ["a", "b", "B", "/", ".", "é", "e\u0301", "😀", "\uffff", "0"];
    const word = (): string => Array.from({ length: 1 + rnd(4) }, () => alphabet[rnd(alphabet.length)]!).join("");
    for (let round = 0; round < 200; round++) {
      const sources = [0, 1, 2].map(() => [...new Set(Array.from({ length: rnd(30) }, word))]);
      if (round % 2 === 0) for (const s of sources) s.sort();
      const expected = [...new Set(sources.flat())].sort();
      assert.deepEqual(sortedUnion(sources.map((s) => [...s])), expected);
    }
  });
});

describe("filters", () => {
  it("matches rclone-style patterns", () => {
    const f = createFilter(["**/.DS_Store", "*.log", "node_modules", "build/**", "/top.txt"]);
    assert.equal(f.excluded(".DS_Store"), true);
    assert.equal(f.excluded("a/b/.DS_Store"), true);
    assert.equal(f.excluded("x.log"), true);
    assert.equal(f.excluded("deep/x.log"), true);
    assert.equal(f.excluded("node_modules/pkg/index.js"), true);
    assert.equal(f.excluded("a/node_modules/x"), true);
    assert.equal(f.excluded("build/out.js"), true);
    assert.equal(f.excluded("top.txt"), true);
    assert.equal(f.excluded("sub/top.txt"), false);
    assert.equal(f.excluded("src/build.ts"), false);
    assert.equal(f.excluded("notes.md"), false);
  });
  it("a literal name (fast path) decides as minimatch does", () => {
    const paths = [".DS_Store", "a/.DS_Store", "a/b/.DS_Store", "a/.DS_Store/x", "x.DS_Store", "a/x.DS_Store", "node_modules", "a/node_modules", "node_modules/p/i.js", "a/node_modulesx", "NODE_MODULES", ".git/x/.DS_Store", "a b/c d"];
    for (const pattern of ["**/.DS_Store", ".DS_Store", "node_modules", "**/node_modules", "c d", "a b"]) {
      const fast = createFilter([pattern]);
      const m = new Minimatch(pattern, { dot: true, matchBase: !pattern.includes("/"), nocomment: true, nonegate: true });
      for (const p of paths) {
        const slow = [p, ...p.split("/").map((_, i, parts) => parts.slice(0, i).join("/")).filter((x) => x !== "")].some((x) => m.match(x));
        assert.equal(fast.excluded(p), slow, `${pattern} on ${p}`);
        assert.equal(fast.matches(p), m.match(p), `${pattern} matches ${p}`);
      }
    }
  });
  it("a folder's verdict, remembered between calls, is the same in any order of asking", () => {
    // The filter remembers the last folder it tested: a folder of the same length or a prefix of
    // another must never borrow its verdict.
    const patterns = ["node_modules", "build/**", "a/b", "*.tmp"];
    const f = createFilter(patterns);
    const m = patterns.map((pattern) => new Minimatch(pattern, { dot: true, matchBase: !pattern.includes("/"), nocomment: true, nonegate: true }));
    const slow = (p: string): boolean => [p, ...p.split("/").map((_, i, parts) => parts.slice(0, i).join("/")).filter((x) => x !== "")].some((x) => m.some((mm) => mm.match(x)));
    const paths = ["a/b/x", "a/c/x", "a/b", "a/bb/x", "ab/b/x", "build/x", "buildx/y", "bui/x", "node_modules/x", "node_modulez/x", "x.tmp/y", "x.tm/y", "q/a/b/x", "a/b/c/d"];
    let seed = 7;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let round = 0; round < 300; round++) {
      const p = paths[rnd(paths.length)]!;
      assert.equal(f.excluded(p), slow(p), p);
    }
  });
  it("isSafeRelativePath decides part by part as the split definition does", () => {
    const slow = (p: string): boolean => p !== "" && !p.includes("\\") && !p.includes("\0") && p.split("/").every((x) => x !== "" && x !== "." && x !== "..");
    const alphabet = ["a", ".", "/", "..", "\\", "\0", "é"];
    let seed = 11;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let round = 0; round < 3000; round++) {
      const p = Array.from({ length: rnd(7) }, () => alphabet[rnd(alphabet.length)]!).join("");
      assert.equal(isSafeRelativePath(p), slow(p), JSON.stringify(p));
    }
    for (const p of ["a", "a/b", ".a", "a/.b", "...", "a/..b"]) assert.equal(isSafeRelativePath(p), true, p);
    for (const p of ["", ".", "..", "a/", "/a", "a//b", "a/./b", "a/../b", "a/.."]) assert.equal(isSafeRelativePath(p), false, p);
  });
  it("hash changes with the patterns and copySymlinks", () => {
    assert.equal(createFilter(["a"]).hash, createFilter(["a"]).hash);
    assert.notEqual(createFilter(["a"]).hash, createFilter(["b"]).hash);
    assert.notEqual(createFilter(["a"]).hash, createFilter(["a"], true).hash);
  });
});

describe("formatInboxNotification", () => {
  it("lists up to five names", () => {
    assert.equal(formatInboxNotification(["a.pdf", "b.csv"]), "[workspace-sync] New files in _inbox: a.pdf, b.csv");
    assert.equal(formatInboxNotification(["1", "2", "3", "4", "5", "6", "7"]), "[workspace-sync] New files in _inbox: 1, 2, 3, 4, 5 and 2 more");
    assert.equal(formatInboxNotification(["1", "2", "3", "4", "5"]), "[workspace-sync] New files in _inbox: 1, 2, 3, 4, 5");
  });
});
