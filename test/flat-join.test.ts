/**
 * `underRoot` replaces `path.join(root, ...rel.split("/"))` on every per-file path of a sync and a
 * restore: it must give the very same string for every relative path, plain or not. Likewise
 * `normalizeRemotePath`, which returns a name that is normal already as it is.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { normalizeRemotePath } from "../src/providers/paths.js";
import { underRoot } from "../src/util/flat-join.js";

const joined = (root: string, rel: string): string => (rel === "" ? root : path.join(root, ...rel.split("/")));

test("underRoot gives path.join's answer for plain and odd relative paths", () => {
  const roots = ["/", "/srv/ws", "/srv/ws/", "/tmp/a b/ü"];
  const rels = ["", "a", "a/b.txt", "a.b/..c/...", ".hidden/x", "a..", "..a/b", "x/./y", "x/../y", "../up", "./a", "a/", "/a", "a//b", ".", "..", "a/.", "a/..", "ü/é/ñ", " sp/ace "];
  for (const root of roots) {
    for (const rel of rels) assert.equal(underRoot(root, rel), joined(root, rel), `${root} + ${rel}`);
  }
});

/** What `normalizeRemotePath` did for every path before it kept normal ones as they are. */
function normalizedBySplitting(p: string): string {
  const parts = p.replace(/\\/g, "/").split("/").filter((s) => s !== "" && s !== ".");
  if (parts.includes("..")) throw new Error("..");
  return parts.join("/");
}

test("underRoot and normalizeRemotePath agree with splitting on random names of dots, slashes and letters", () => {
  let seed = 0x2f6b1a;
  const next = (): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const alphabet = ["/", ".", ".", "a", "b", "-", "\\"];
  for (let i = 0; i < 5000; i++) {
    let rel = "";
    const n = Math.floor(next() * 9);
    for (let j = 0; j < n; j++) rel += alphabet[Math.floor(next() * alphabet.length)]!;
    assert.equal(underRoot("/r/s", rel), joined("/r/s", rel), rel);
    let want: string | Error;
    try {
      want = normalizedBySplitting(rel);
    } catch (err) {
      want = err as Error;
    }
    if (want instanceof Error) assert.throws(() => normalizeRemotePath(rel), { code: "INVALID_PATH" }, rel);
    else assert.equal(normalizeRemotePath(rel), want, rel);
  }
});
