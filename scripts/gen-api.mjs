#!/usr/bin/env node
// `npm run docs`: regenerates api/workspace-sync.api.md, the public API report (see scripts/api-report.mjs).
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { apiReport } from "./api-report.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
mkdirSync(path.join(root, "api"), { recursive: true });
writeFileSync(path.join(root, "api", "workspace-sync.api.md"), apiReport(root));
console.log("api/workspace-sync.api.md updated");
