#!/usr/bin/env node
// `npm run docs`: regenerates the README's config reference from the zod schema (describeConfig), so the two
// cannot drift; test/readme.test.ts fails when they do. Run after `npm run build`.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const { describeConfig } = await import(path.join(root, "dist", "config", "index.js"));
const file = path.join(root, "README.md");
const start = "<!-- config-reference:start -->";
const end = "<!-- config-reference:end -->";
const text = readFileSync(file, "utf8");
const i = text.indexOf(start);
const j = text.indexOf(end);
if (i < 0 || j < i) throw new Error("README.md has no config-reference markers");
writeFileSync(file, `${text.slice(0, i + start.length)}\n${describeConfig().trim()}\n${text.slice(j)}`);
console.log("README.md config reference updated");
