/**
 * The state is written in pieces (sync/state.ts `stateJsonPieces`, written through one buffer): the text must read back as what
 * `JSON.stringify` gives (same values, files in the same order), for any names, with and without ingest records, across piece boundaries,
 * and `saveState` then `loadState` must give the state back.
 */
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { isDeepStrictEqual } from "node:util";
import { SAVE_CHUNK_BYTES, loadState, pathRecord, saveState, stateJsonPieces, type StateIdentity } from "../src/sync/state.js";
import type { StateEntry, SyncState } from "../src/sync/types.js";
import { tempDir } from "./support/tree.js";

function stateWith(files: Record<string, StateEntry>, extra: Partial<SyncState> = {}): SyncState {
  return { version: 1, mode: "bisync", description: "local:/c", remotePath: "share", workspace: "/w", filtersHash: "h", savedAt: "2026-12-05T00:00:00.000Z", files, ...extra };
}

test("the state's text written in pieces reads back as JSON.stringify's", () => {
  const files = pathRecord<StateEntry>();
  const odd = ["__proto__", "constructor", "a\"quote", "back\\slash", "tab\tname", "ünïcödé/ファイル", "emoji 😀", "123", "0", "line\nbreak"];
  for (const k of odd) files[k] = { local: { size: 1, mtimeMs: 1796491170669 }, remote: { size: 1, mtimeMs: 1796491170669, hash: "abc", revision: "r1" } };
  // Enough entries for several pieces.
  for (let i = 0; i < 20000; i++) files[`notes/d${i % 97}/f${i}.md`] = { local: { size: i, mtimeMs: 1796491170000 + i }, remote: { size: i, revision: `${i}:${1796491170000 + i}:${i * 7}` } };
  for (const s of [stateWith(files), stateWith(files, { bootId: "b", ingested: { "in/x": { size: 2, hash: "h2" } } }), stateWith(pathRecord())]) {
    const pieces = [...stateJsonPieces(s)];
    const back = JSON.parse(pieces.join("")) as SyncState;
    assert.ok(isDeepStrictEqual(back, JSON.parse(JSON.stringify(s))), "reads back as JSON.stringify's text does");
    assert.ok(isDeepStrictEqual(Object.keys(back.files), Object.keys(s.files)), "files in the same order");
    assert.equal(pieces.length, Object.keys(s.files).length + 2, "a piece per file, plus the first and the last");
  }
});

test("a state saved in pieces loads back the same", async (t) => {
  const { dir, cleanup } = await tempDir("ws-state-save-");
  t.after(cleanup);
  const id: StateIdentity = { description: "local:/c", remotePath: "share", workspace: path.join(dir, "w") };
  const files = pathRecord<StateEntry>();
  for (let i = 0; i < 5000; i++) files[i % 2 ? `a/${i}` : `__proto__/${i}`] = { local: { size: i, mtimeMs: i * 1000 }, remote: { size: i, mtimeMs: i * 1000, revision: `r${i}` } };
  files["__proto__"] = { local: { size: 3, mtimeMs: 5 }, remote: { size: 3 } };
  const state = stateWith(files, { workspace: path.resolve(id.workspace), description: id.description, remotePath: id.remotePath });
  const file = path.join(dir, "state.json");
  await saveState(file, state);
  const back = await loadState(file, id);
  assert.ok(back);
  assert.deepEqual({ ...back, files: { ...back.files } }, { ...state, files: { ...files } });
  assert.equal(Object.getPrototypeOf(back.files), null);
  assert.deepEqual(back.files["__proto__"], files["__proto__"]);
});

test("the saved file is exactly the pieces' text, across buffer boundaries, with multi-byte names and a piece larger than the buffer", async (t) => {
  const { dir, cleanup } = await tempDir("ws-state-bytes-");
  t.after(cleanup);
  const files = pathRecord<StateEntry>();
  // First, names of 3-byte characters only (the most UTF-8 a UTF-16 unit takes): ~180 KB, then ~90 KB
  // that must not go after it in the same 256 KiB buffer (an estimate of 2 bytes a unit would cut it short).
  files[`${"€".repeat(60000)}/a`] = { local: { size: 1, mtimeMs: 1 }, remote: { size: 1 } };
  files[`${"€".repeat(30000)}/b`] = { local: { size: 2, mtimeMs: 2 }, remote: { size: 2 } };
  // Names of 1-, 2-, 3- and 4-byte characters, so that pieces end at every offset of a buffer.
  for (let i = 0; i < 12000; i++) files[`${"aé€😀".repeat(1 + (i % 5))}/${i}`] = { local: { size: i, mtimeMs: 1796491170000 + i }, remote: { size: i, hash: `h${i}` } };
  const ingested: Record<string, { size: number }> = {};
  for (let i = 0; i < 20000; i++) ingested[`in/ü${i}`] = { size: i }; // one piece of ~400 KB
  for (const s of [stateWith(files), stateWith(files, { ingested })]) {
    const file = path.join(dir, "state.json");
    await saveState(file, s);
    const bytes = await fsp.readFile(file);
    assert.ok(bytes.length > 2 * SAVE_CHUNK_BYTES, `${bytes.length} bytes: several writes`);
    assert.ok(bytes.equals(Buffer.from([...stateJsonPieces(s)].join(""))), "the file holds the pieces' text byte for byte");
  }
});

test("a state is read back whether written one file a line or as one line, and damaged text of either kind is a first run, never a crash", async (t) => {
  const { dir, cleanup } = await tempDir("ws-state-load-");
  t.after(cleanup);
  const id: StateIdentity = { description: "local:/c", remotePath: "share", workspace: path.join(dir, "w") };
  const files = pathRecord<StateEntry>();
  for (let i = 0; i < 3000; i++) files[`d${i % 7}/ü ${i}\u2028.txt`] = { local: { size: i, mtimeMs: i }, remote: { size: i, hash: `h${i}` } };
  files["__proto__"] = { local: { size: 1, mtimeMs: 2 }, remote: { size: 1 } };
  const state = stateWith(files, { workspace: path.resolve(id.workspace), description: id.description, remotePath: id.remotePath, ingested: { "in/a": { size: 1 } } });
  const lines = [...stateJsonPieces(state)].join("");
  assert.ok(lines.split("\n").length > 3000, "one file a line");
  const file = path.join(dir, "state.json");
  for (const text of [lines, JSON.stringify(state), JSON.stringify(state, null, 2)]) {
    await fsp.writeFile(file, text);
    const back = await loadState(file, id);
    assert.ok(back);
    assert.ok(isDeepStrictEqual({ ...back, files: { ...back.files }, ingested: { ...back.ingested } }, { ...state, files: { ...files }, ingested: { ...state.ingested } }));
    assert.equal(Object.getPrototypeOf(back.files), null);
  }
  // Cut anywhere, or with a line of garbage: reported as damaged (or unknown), never thrown.
  const damaged = [lines.slice(0, 20), lines.slice(0, lines.indexOf("\n") + 1), lines.slice(0, lines.length / 2), lines.slice(0, -1), `${lines}\n{}`, lines.replace("\n", "\nnot json\n"), "", "null", "[1]"];
  for (const text of damaged) {
    await fsp.writeFile(file, text);
    const said: string[] = [];
    assert.equal(await loadState(file, id, (m) => said.push(m)), undefined, JSON.stringify(text.slice(0, 60)));
    assert.match(said.join("\n"), /damaged|unknown format/);
  }
});

test("any valid JSON state loads as before, whatever its layout after a first line ending in '\"files\":{' (a hand edit)", async (t) => {
  const { dir, cleanup } = await tempDir("ws-state-layout-");
  t.after(cleanup);
  const id: StateIdentity = { description: "local:/c", remotePath: "share", workspace: path.join(dir, "w") };
  const files = pathRecord<StateEntry>();
  files["a.txt"] = { local: { size: 1, mtimeMs: 2 }, remote: { size: 1 } };
  files["b\":{\"c"] = { local: { size: 3, mtimeMs: 4 }, remote: { size: 3, revision: "r" } };
  const state = stateWith(files, { workspace: path.resolve(id.workspace), description: id.description, remotePath: id.remotePath });
  const lines = [...stateJsonPieces(state)].join("");
  const file = path.join(dir, "state.json");
  const layouts = [
    lines.replace(/\n\}\}$/, "}}"), // the last file and the closing braces on one line
    lines.replace(/\n"b/, '\n\n  "b').replace(/("local":)/g, "\n$1"), // a file's entry over several lines
    lines.replace(/\n/g, "\r\n"),
  ];
  for (const text of layouts) {
    JSON.parse(text); // valid JSON
    await fsp.writeFile(file, text);
    const said: string[] = [];
    const back = await loadState(file, id, (m) => said.push(m));
    assert.deepEqual(said, [], JSON.stringify(text));
    assert.ok(back);
    assert.ok(isDeepStrictEqual({ ...back.files }, { ...files }));
  }
});
