#!/usr/bin/env node
// Import cycles in src/: between files, and between rooms (the folders directly under src/, with
// the files at src/ root each a room of their own). A room cycle (retention -> backup -> retention)
// means two rooms each need the other, so neither is the lower layer. Imports are read with a regex
// over `import|export ... from "./..."` and `import("./...")` (comments and type-position `import("./x").T` skipped); type-only imports do not count (they
// load nothing). util/ is a bag of independent leaf helpers: each of its files is a room of its own. Run: node scripts/check-cycles.mjs (exit 1 and a list when there are cycles);
// test/import-cycles.test.ts runs it in the suite.
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

function sourceFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...sourceFiles(full));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(full);
  }
  return out;
}

const IMPORT = /(?:^|[\s;])(?:import|export)\s([^"';]*?)\sfrom\s*["'](\.{1,2}\/[^"']+)["']|import\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)(?!\s*\.\s*(?!then\b)\w)/g;

/** The relative-import graph of `src/` under `root`: file (relative to src/) -> files it imports. */
export function importGraph(root, { typeImports = false } = {}) {
  const src = path.join(root, "src");
  const graph = new Map();
  for (const file of sourceFiles(src)) {
    // Comments out (a TSDoc `{@link import("./run.js").x}` is not an import).
    const text = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'\\])\/\/.*$/gm, "$1");
    const deps = new Set();
    for (const m of text.matchAll(IMPORT)) {
      // `import type` / `export type` load nothing: they name a shared vocabulary (config/types.ts is
      // read by every room), not a dependency on another room's code, so only runtime imports count.
      if (!typeImports && m[1] !== undefined && /^type\s/.test(m[1].trim())) continue;
      if (!typeImports && m[1] !== undefined && /^\{[^}]*\}$/.test(m[1].trim()) && m[1].slice(1, -1).split(",").every((n) => !n.trim() || /^type\s/.test(n.trim()))) continue;
      const spec = m[2] ?? m[3];
      const target = path.resolve(path.dirname(file), spec).replace(/\.js$/, ".ts");
      deps.add(path.relative(src, target).split(path.sep).join("/"));
    }
    graph.set(path.relative(src, file).split(path.sep).join("/"), deps);
  }
  return graph;
}

/** Strongly connected components with more than one node (or a self-loop): Tarjan's algorithm. */
function cycles(graph) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const out = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const scc = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || graph.get(v)?.has(v)) out.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  return out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

const roomOf = (file) => (file.startsWith("util/") || !file.includes("/") ? file : file.slice(0, file.indexOf("/")));

/** `{ files, rooms }`: each a list of cycles (sorted member lists); empty when there are none. */
export function findCycles(root, options = {}) {
  const graph = importGraph(root, options);
  const rooms = new Map();
  const edges = new Map();
  for (const [file, deps] of graph) {
    const from = roomOf(file);
    if (!rooms.has(from)) rooms.set(from, new Set());
    for (const dep of deps) {
      const to = roomOf(dep);
      if (to === from) continue;
      rooms.get(from).add(to);
      const key = `${from} -> ${to}`;
      if (!edges.has(key)) edges.set(key, []);
      edges.get(key).push(`${file} -> ${dep}`);
    }
  }
  const roomCycles = cycles(rooms).map((members) => ({
    members,
    edges: [...edges.entries()].filter(([k]) => members.includes(k.split(" -> ")[0]) && members.includes(k.split(" -> ")[1])).flatMap(([, v]) => v),
  }));
  return { files: cycles(graph), rooms: roomCycles };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  // --types: count type-only imports too (a report; the test checks runtime imports).
  const { files, rooms } = findCycles(root, { typeImports: process.argv.includes("--types") });
  for (const c of files) console.log(`file cycle: ${c.join(", ")}`);
  for (const c of rooms) console.log(`room cycle: ${c.members.join(", ")}\n  ${c.edges.join("\n  ")}`);
  if (files.length === 0 && rooms.length === 0) console.log("no import cycles");
  process.exitCode = files.length + rooms.length > 0 ? 1 : 0;
}
