/**
 * The sync command's young-generation policy (util/young-generation.ts): after the call, a burst
 * of surviving allocations no longer grows V8's new space, and the flag is one this Node knows
 * (an unknown flag would print an error on every sync).
 */
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { runNode } from "./support/run-node.js";

const moduleUrl = new URL("../src/util/young-generation.js", import.meta.url).href;

/** New space size (MiB) after 400 000 objects that all survive, with or without the policy. */
async function newSpaceAfterBurst(withPolicy: boolean): Promise<{ mib: number; stderr: string }> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "ws-young-"));
  try {
    const file = path.join(dir, "burst.mjs");
    await fsp.writeFile(
      file,
      [
        `import v8 from "node:v8";`,
        `import { keepYoungGenerationSmall } from ${JSON.stringify(moduleUrl)};`,
        `if (process.argv[2] === "on") keepYoungGenerationSmall();`,
        `const keep = [];`,
        `for (let i = 0; i < 400000; i++) keep.push({ n: i, s: "file-" + i });`,
        `const ns = v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space");`,
        `console.log(JSON.stringify({ mib: ns.space_size / 1048576, kept: keep.length }));`,
      ].join("\n"),
    );
    const run = await runNode(file, [withPolicy ? "on" : "off"]);
    assert.equal(run.code, 0, run.stderr);
    return { mib: (JSON.parse(run.stdout) as { mib: number }).mib, stderr: run.stderr };
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

test("the sync command's heap policy keeps V8's new space at its starting size through a burst of surviving objects", async () => {
  const without = await newSpaceAfterBurst(false);
  const withPolicy = await newSpaceAfterBurst(true);
  // The control: without the policy V8 grows the new space (to 32 MiB on Node 20 and 24).
  assert.ok(without.mib > 8, `without the policy the new space grew to ${without.mib} MiB`);
  assert.ok(withPolicy.mib <= 4, `with the policy the new space is ${withPolicy.mib} MiB`);
  assert.equal(withPolicy.stderr, "", "the flag is known to this Node (no error printed)");
});
