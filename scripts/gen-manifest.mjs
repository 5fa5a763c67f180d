#!/usr/bin/env node
// `npm run docs`: regenerates openclaw.plugin.json (the manifest OpenClaw reads before loading the plugin)
// from the code: the config JSON Schema and UI hints from the zod schema, the CLI root and tool names
// (src/openclaw/manifest.ts). test/openclaw-manifest.test.ts fails when the checked-in file differs.
// Run after `npm run build`.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const { manifestText } = await import(path.join(root, "dist", "openclaw", "manifest.js"));
writeFileSync(path.join(root, "openclaw.plugin.json"), manifestText());
console.log("openclaw.plugin.json updated");
