/**
 * No import cycles in src/, between files or between rooms (scripts/check-cycles.mjs): each room
 * imports only rooms below it, so any of them can be read, tested and changed from the bottom up.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

interface Cycles {
  files: string[][];
  rooms: { members: string[]; edges: string[] }[];
}
const { findCycles } = (await import(pathToFileURL(path.join(root, "scripts", "check-cycles.mjs")).href)) as { findCycles: (root: string) => Cycles };

test("src/ has no import cycles between files or rooms (run: node scripts/check-cycles.mjs)", () => {
  const found = findCycles(root);
  assert.deepEqual(found.files, [], `file cycles: ${JSON.stringify(found.files)}`);
  assert.deepEqual(found.rooms, [], `room cycles: ${JSON.stringify(found.rooms, null, 2)}`);
});

test("the checker finds room and file cycles, and ignores type-only imports and comments", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "ws-cycles-"));
  try {
    const write = (file: string, text: string): void => {
      mkdirSync(path.dirname(path.join(dir, "src", file)), { recursive: true });
      writeFileSync(path.join(dir, "src", file), text);
    };
    write("lower/a.ts", 'import { b } from "../upper/b.js";\nexport const a = b;\n');
    write("upper/b.ts", 'export const b = 1;\n');
    write("upper/c.ts", 'import { a } from "../lower/a.js";\nexport const c = a;\n');
    write("x/one.ts", 'import { two } from "./two.js";\nexport const one = two;\n');
    write("x/two.ts", 'export { one as two } from "./one.js";\n');
    write("y/t.ts", 'import type { Z } from "../z/z.js";\n/** {@link import("../z/z.js").Z} */\nexport type T = Z;\n');
    write("z/z.ts", 'import { type T } from "../y/t.js";\nexport type Z = T | 1;\n');
    const found = findCycles(dir);
    assert.deepEqual(found.files, [["x/one.ts", "x/two.ts"]]);
    assert.deepEqual(
      found.rooms.map((r) => r.members),
      [["lower", "upper"]],
    );
    assert.deepEqual(found.rooms[0]?.edges.sort(), ["lower/a.ts -> upper/b.ts", "upper/c.ts -> lower/a.ts"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
