/**
 * The inbox helper against a workspace that changes under it: `_inbox`, a folder being moved out of
 * it, or the move's target swapped for a symbolic link to a folder outside the workspace at the
 * very moment between a check and the call that uses it. Each swap is made by a hook on the
 * `fs.promises` call the helper makes right before its next step (the hook matches the entry's
 * name, whatever path reaches it), so it lands in the window every time; a cross-device move is
 * forced by answering `EXDEV` to the move's `link`/`rename` of the entry. Nothing outside may be
 * read, written, moved or deleted, nothing from outside may land in the workspace, the entry is
 * reported as not moved with a reason, and the inbox's own file is still there (where the swap put
 * it).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs, { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { isWorkspaceSyncError } from "../src/errors.js";
import { listInbox, moveFromInbox, peekInbox } from "../src/inbox/index.js";
import { WorkspaceFs } from "../src/util/safe-fs.js";

/** The `fs.promises` methods a hook replaces. */
type Hooked = "lstat" | "link" | "rename" | "open" | "mkdir" | "readdir";

/** A promise method as the hook sees it. */
type AnyCall = (...args: unknown[]) => Promise<unknown>;

/**
 * Replaces `fsp[method]` for the rest of the test with `hook`, which gets the original and the
 * call's arguments.
 */
function hook(t: { after(fn: () => void): void }, method: Hooked, fn: (original: AnyCall, args: unknown[]) => Promise<unknown>): void {
  const table = fsp as unknown as Record<Hooked, AnyCall>;
  const original = table[method];
  table[method] = (...args: unknown[]) => fn(original.bind(fsp), args);
  t.after(() => {
    table[method] = original;
  });
}

/** Whether call argument `p` is a path (a string, or a URL/Buffer turned to one) whose last name is `name`. */
function names(p: unknown, name: string): boolean {
  return (typeof p === "string" || Buffer.isBuffer(p)) && path.basename(String(p)) === name;
}

/**
 * Runs `swap` the first time `method` is called for entry `name` (any entry: `undefined`), then the
 * call goes on as asked. Returns whether the swap was made.
 */
function swapAt(t: { after(fn: () => void): void }, method: Hooked, name: string | undefined, swap: () => void): () => boolean {
  let done = false;
  hook(t, method, async (original, args) => {
    if (!done && (name === undefined || names(args[0], name))) {
      done = true;
      swap();
    }
    return original(...args);
  });
  return () => done;
}

/** `link` and `rename` of entry `name` answer `EXDEV` (as across two devices); `first` runs before the first such answer. */
function crossDevice(t: { after(fn: () => void): void }, name: string, first: () => void = () => undefined): void {
  let done = false;
  for (const method of ["link", "rename"] as const) {
    hook(t, method, async (original, args) => {
      if (!names(args[0], name)) return original(...args);
      if (!done) {
        done = true;
        first();
      }
      throw Object.assign(new Error(`EXDEV: cross-device link not permitted, ${method}`), { code: "EXDEV" });
    });
  }
}

/** Moves `at` to `aside` and puts a symbolic link to `to` at its name (synchronous: no hook sees it). */
function swapForLink(at: string, aside: string, to: string): void {
  fs.renameSync(at, aside);
  fs.symlinkSync(to, at);
}

/** Every entry under `dir` (`name/` a folder, `name -> target` a link), never following a link. */
function tree(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const st = fs.lstatSync(path.join(dir, r));
    if (st.isDirectory()) out.push(`${r}/`, ...tree(dir, r));
    else if (st.isSymbolicLink()) out.push(`${r} -> ${fs.readlinkSync(path.join(dir, r))}`);
    else out.push(`${r}: ${fs.readFileSync(path.join(dir, r), "utf8")}`);
  }
  return out;
}

/** A workspace with an inbox, and a folder outside it; removed after the test. */
async function fixture(t: { after(fn: () => Promise<void>): void }) {
  const root = await fsp.realpath(await fsp.mkdtemp(path.join(os.tmpdir(), "ws-inbox-swap-")));
  t.after(() => fsp.rm(root, { recursive: true, force: true }));
  const ws = path.join(root, "ws");
  const inbox = path.join(ws, "_inbox");
  const outside = path.join(root, "outside");
  await fsp.mkdir(inbox, { recursive: true });
  await fsp.mkdir(outside);
  return { root, ws, inbox, outside, aside: path.join(root, "aside") };
}

test("_inbox swapped for a link to outside right after the source's lstat: the outside file is neither moved in nor deleted", async (t) => {
  const f = await fixture(t);
  await fsp.writeFile(path.join(f.inbox, "secret.txt"), "INBOX");
  await fsp.writeFile(path.join(f.outside, "secret.txt"), "OUTSIDE");
  swapAt(t, "lstat", "secret.txt", () => swapForLink(f.inbox, f.aside, f.outside));

  const r = await moveFromInbox({ workspaceDir: f.ws, target: "docs", files: ["secret.txt"] });

  assert.deepEqual(tree(f.outside), ["secret.txt: OUTSIDE"], "nothing outside moved, deleted or written");
  assert.deepEqual(tree(path.join(f.ws, "docs")), [], "the outside file never lands in the workspace");
  assert.deepEqual(tree(f.aside), ["secret.txt: INBOX"], "the inbox's own file is still there");
  assert.deepEqual(r.moved, []);
  assert.equal(r.errors.length, 1, r.errors.join("\n"));
  assert.match(r.errors[0]!, /^secret\.txt: not moved: _inbox changed during the move/);
});

test("the target swapped for a link to outside before the move: nothing is written outside, nor into the folder moved away", async (t) => {
  const f = await fixture(t);
  await fsp.mkdir(path.join(f.ws, "docs"));
  await fsp.writeFile(path.join(f.inbox, "a.txt"), "INBOX");
  swapAt(t, "lstat", "a.txt", () => swapForLink(path.join(f.ws, "docs"), f.aside, f.outside));

  const r = await moveFromInbox({ workspaceDir: f.ws, target: "docs", files: ["a.txt"] });

  assert.deepEqual(tree(f.outside), [], "nothing written outside");
  assert.deepEqual(tree(f.aside), [], "nothing written into the target moved out of the workspace");
  assert.deepEqual(tree(f.inbox), ["a.txt: INBOX"], "the inbox file is still there");
  assert.deepEqual(r.remaining, ["a.txt"]);
  assert.deepEqual(r.moved, []);
  assert.equal(r.errors.length, 1, r.errors.join("\n"));
  assert.match(r.errors[0]!, /^a\.txt: not moved: docs changed during the move/);
});

test("a folder being made for the target swapped for a link to outside: nothing is made outside, nor left in the folder moved away, and the target is said to have changed", async (t) => {
  const f = await fixture(t);
  await fsp.mkdir(path.join(f.ws, "docs"));
  await fsp.writeFile(path.join(f.inbox, "a.txt"), "INBOX");
  // The check of the target found `docs`; the folders under it are made after that (the first
  // mkdir: whatever happens to the folder it is made in, nothing is made through a link).
  const done = swapAt(t, "mkdir", undefined, () => swapForLink(path.join(f.ws, "docs"), f.aside, f.outside));

  await assert.rejects(moveFromInbox({ workspaceDir: f.ws, target: "docs/new/deeper", files: ["a.txt"] }), (e: unknown) => isWorkspaceSyncError(e, "INVALID_PATH") && /changed while/.test(e.message) && !/^Invalid target/.test(e.message));

  assert.ok(done(), "the swap was made");
  assert.deepEqual(tree(f.outside), [], "no folder made outside");
  assert.deepEqual(tree(f.aside), [], "the folder made in the folder moved away is taken back; nothing moved there");
  assert.deepEqual(tree(f.inbox), ["a.txt: INBOX"]);
});

test("across devices, _inbox swapped for a link to outside before the copy of a file: the outside file is neither copied in nor deleted", async (t) => {
  const f = await fixture(t);
  await fsp.writeFile(path.join(f.inbox, "secret.txt"), "INBOX");
  await fsp.writeFile(path.join(f.outside, "secret.txt"), "OUTSIDE");
  crossDevice(t, "secret.txt", () => swapForLink(f.inbox, f.aside, f.outside));

  const r = await moveFromInbox({ workspaceDir: f.ws, target: "docs", files: ["secret.txt"] });

  assert.deepEqual(tree(f.outside), ["secret.txt: OUTSIDE"]);
  assert.deepEqual(tree(path.join(f.ws, "docs")), [], "no copy, no temp file left");
  assert.deepEqual(tree(f.aside), ["secret.txt: INBOX"]);
  assert.deepEqual(r.moved, []);
  assert.equal(r.errors.length, 1, r.errors.join("\n"));
  assert.match(r.errors[0]!, /^secret\.txt: not moved: /);
});

test("across devices, _inbox swapped for a link to outside before the copy of a folder: the outside folder is neither copied in nor emptied", async (t) => {
  const f = await fixture(t);
  await fsp.mkdir(path.join(f.inbox, "photos"));
  await fsp.writeFile(path.join(f.inbox, "photos", "a.txt"), "INBOX");
  await fsp.mkdir(path.join(f.outside, "photos"));
  await fsp.writeFile(path.join(f.outside, "photos", "a.txt"), "OUTSIDE");
  crossDevice(t, "photos", () => swapForLink(f.inbox, f.aside, f.outside));

  const r = await moveFromInbox({ workspaceDir: f.ws, target: "docs", files: ["photos"] });

  assert.deepEqual(tree(f.outside), ["photos/", "photos/a.txt: OUTSIDE"]);
  assert.deepEqual(tree(path.join(f.ws, "docs")), [], "no copy, no temp folder left");
  assert.deepEqual(tree(f.aside), ["photos/", "photos/a.txt: INBOX"]);
  assert.deepEqual(r.moved, []);
  assert.equal(r.errors.length, 1, r.errors.join("\n"));
  assert.match(r.errors[0]!, /^photos: not moved: /);
});

test("across devices, a folder of the copy swapped for a link to outside while the inbox folder is copied: nothing is written outside", async (t) => {
  const f = await fixture(t);
  await fsp.mkdir(path.join(f.inbox, "photos", "sub"), { recursive: true });
  await fsp.writeFile(path.join(f.inbox, "photos", "sub", "b.txt"), "INBOX");
  await fsp.mkdir(path.join(f.ws, "docs"));
  crossDevice(t, "photos");
  // Right before b.txt is read, the copy's folder `sub` (made just before) is swapped.
  let done = false;
  hook(t, "open", async (original, args) => {
    if (!done && names(args[0], "b.txt") && typeof args[1] === "number" && (args[1] & fs.constants.O_CREAT) === 0) {
      done = true;
      const temp = fs.readdirSync(path.join(f.ws, "docs")).find((n) => n.startsWith(".ws-sync-"));
      assert.ok(temp, "the copy's temp folder is there");
      swapForLink(path.join(f.ws, "docs", temp, "sub"), f.aside, f.outside);
    }
    return original(...args);
  });

  const r = await moveFromInbox({ workspaceDir: f.ws, target: "docs", files: ["photos"] });

  assert.ok(done, "the swap was made");
  assert.deepEqual(tree(f.outside), [], "nothing written outside");
  assert.deepEqual(tree(f.aside), [], "nothing written into the folder moved away");
  assert.deepEqual(tree(path.join(f.ws, "docs")), [], "no temp folder left");
  assert.deepEqual(tree(f.inbox), ["photos/", "photos/sub/", "photos/sub/b.txt: INBOX"], "the inbox folder is untouched");
  assert.deepEqual(r.moved, []);
  assert.equal(r.errors.length, 1, r.errors.join("\n"));
  assert.match(r.errors[0]!, /^photos: not moved: /);
});

test("listInbox: _inbox swapped for a link to outside while its entries are looked at: nothing from outside is listed", async (t) => {
  const f = await fixture(t);
  await fsp.writeFile(path.join(f.inbox, "a.txt"), "A");
  await fsp.writeFile(path.join(f.inbox, "b.txt"), "B");
  await fsp.writeFile(path.join(f.outside, "b.txt"), "OUTSIDE, LONGER");
  swapAt(t, "lstat", "a.txt", () => swapForLink(f.inbox, f.aside, f.outside));

  const listing = await listInbox({ workspaceDir: f.ws }).catch((err: unknown) => err);

  assert.ok(isWorkspaceSyncError(listing, "INVALID_PATH"), `refused: ${JSON.stringify(listing)}`);
  assert.match(listing.message, /_inbox/);
});

test("peekInbox: _inbox swapped for a link to outside right after a folder's lstat: the outside folder is not listed", async (t) => {
  const f = await fixture(t);
  await fsp.mkdir(path.join(f.inbox, "photos"));
  await fsp.writeFile(path.join(f.inbox, "photos", "mine.jpg"), "");
  await fsp.mkdir(path.join(f.outside, "photos"));
  await fsp.writeFile(path.join(f.outside, "photos", "outside-secret.jpg"), "");
  swapAt(t, "lstat", "photos", () => swapForLink(f.inbox, f.aside, f.outside));

  const peek = await peekInbox({ workspaceDir: f.ws, name: "photos" }).catch((err: unknown) => err);

  assert.ok(isWorkspaceSyncError(peek, "INVALID_PATH"), `refused: ${JSON.stringify(peek)}`);
  assert.match(peek.message, /_inbox/);
});

test("a failed copy's temp folder is removed through its folders held open: a folder of it swapped for a link to outside during the removal is never emptied through", async (t) => {
  for (const when of [1, 2]) {
    const f = await fixture(t);
    const tmp = path.join(f.ws, "docs", ".ws-sync-0123456789abcdef-0001.tmp");
    await fsp.mkdir(path.join(tmp, "sub"), { recursive: true });
    const made = fs.lstatSync(tmp);
    await fsp.mkdir(path.join(f.outside, "sub"));
    for (const n of ["a.txt", "b.txt"]) {
      await fsp.writeFile(path.join(tmp, "sub", n), "COPY");
      await fsp.writeFile(path.join(f.outside, "sub", n), "OUTSIDE");
    }
    // The swap as the removal reads the temp folder's names (1), or the names of `sub`, already held (2).
    let calls = 0;
    hook(t, "readdir", async (original, args) => {
      if (++calls === when) swapForLink(path.join(tmp, "sub"), f.aside, path.join(f.outside, "sub"));
      return original(...args);
    });
    const ws = await WorkspaceFs.open(f.ws);
    await ws.removeOwnTree("docs/.ws-sync-0123456789abcdef-0001.tmp", made);
    assert.ok(calls >= when, `the swap was made (${when})`);
    assert.deepEqual(tree(f.outside), ["sub/", "sub/a.txt: OUTSIDE", "sub/b.txt: OUTSIDE"], `nothing removed outside (${when})`);
    assert.deepEqual(tree(f.aside), ["a.txt: COPY", "b.txt: COPY"], `nothing removed from the folder moved away either (${when})`);
    if (when === 1) assert.deepEqual(tree(path.join(f.ws, "docs")), [], "the temp folder and the link put in it are removed");
  }
});

test("across devices, a folder of the inbox folder swapped for a link to outside right before a file of it is opened: nothing outside is opened", async (t) => {
  const f = await fixture(t);
  await fsp.mkdir(path.join(f.inbox, "photos", "sub"), { recursive: true });
  await fsp.writeFile(path.join(f.inbox, "photos", "sub", "b.txt"), "INBOX");
  await fsp.mkdir(path.join(f.outside, "sub"));
  await fsp.writeFile(path.join(f.outside, "sub", "b.txt"), "OUTSIDE");
  await fsp.mkdir(path.join(f.ws, "docs"));
  crossDevice(t, "photos");
  const opened: string[] = [];
  let done = false;
  hook(t, "open", async (original, args) => {
    const reading = names(args[0], "b.txt") && (typeof args[1] !== "number" || (args[1] & fs.constants.O_CREAT) === 0);
    if (reading && !done) {
      done = true;
      swapForLink(path.join(f.inbox, "photos", "sub"), f.aside, path.join(f.outside, "sub"));
    }
    const handle = (await original(...args)) as fsp.FileHandle;
    if (reading) opened.push(fs.readlinkSync(`/proc/self/fd/${handle.fd}`));
    return handle;
  });

  const r = await moveFromInbox({ workspaceDir: f.ws, target: "docs", files: ["photos"] });

  assert.ok(done, "the swap was made");
  assert.ok(!opened.some((p) => p.startsWith(f.outside)), `opened: ${opened.join(", ")}`);
  assert.deepEqual(tree(f.outside), ["sub/", "sub/b.txt: OUTSIDE"]);
  assert.ok(!tree(path.join(f.ws, "docs")).some((e) => e.includes("OUTSIDE")), "nothing from outside copied in");
  assert.ok(r.errors.length >= 1, "reported");
});

test("an entry's error names its files as the workspace does, never by the descriptor paths the move works through", async (t) => {
  const f = await fixture(t);
  const long = `${"a".repeat(251)}.txt`;
  await fsp.writeFile(path.join(f.inbox, long), "INBOX");
  await fsp.mkdir(path.join(f.ws, "docs"));
  await fsp.writeFile(path.join(f.ws, "docs", long), "TAKEN");

  const r = await moveFromInbox({ workspaceDir: f.ws, target: "docs", files: [long] });

  assert.deepEqual(r.moved, []);
  assert.equal(r.errors.length, 1, r.errors.join("\n"));
  assert.ok(!r.errors[0]!.includes("/proc/"), r.errors[0]);
  assert.match(r.errors[0]!, /ENAMETOOLONG|too long/);
});

test("a failed copy's temp folder: a workspace folder renamed to the name of one of its folders during the removal is left as it is", async (t) => {
  const f = await fixture(t);
  const tmp = path.join(f.ws, "docs", ".ws-sync-0123456789abcdef-0002.tmp");
  await fsp.mkdir(path.join(tmp, "sub"), { recursive: true });
  const made = fs.lstatSync(tmp);
  await fsp.writeFile(path.join(tmp, "sub", "partial.txt"), "COPY");
  await fsp.mkdir(path.join(f.ws, "projects"));
  await fsp.writeFile(path.join(f.ws, "projects", "plan.md"), "USER");
  // Right after the removal looked at `sub` (a folder), the user's folder takes its name.
  let done = false;
  hook(t, "lstat", async (original, args) => {
    const st = await original(...args);
    if (!done && names(args[0], "sub")) {
      done = true;
      fs.renameSync(path.join(tmp, "sub"), f.aside);
      fs.renameSync(path.join(f.ws, "projects"), path.join(tmp, "sub"));
    }
    return st;
  });
  const ws = await WorkspaceFs.open(f.ws);
  await ws.removeOwnTree("docs/.ws-sync-0123456789abcdef-0002.tmp", made);
  assert.ok(done, "the rename was made");
  assert.deepEqual(tree(path.join(tmp, "sub")), ["plan.md: USER"], "the user's folder and its file are kept");
});

test("a target folder someone else made meanwhile, its parent moved away: it is kept, and the target is said to have changed", async (t) => {
  const f = await fixture(t);
  await fsp.mkdir(path.join(f.ws, "docs"));
  await fsp.writeFile(path.join(f.inbox, "a.txt"), "INBOX");
  const done = swapAt(t, "mkdir", undefined, () => {
    fs.mkdirSync(path.join(f.ws, "docs", "new"));
    swapForLink(path.join(f.ws, "docs"), f.aside, f.outside);
  });

  await assert.rejects(moveFromInbox({ workspaceDir: f.ws, target: "docs/new", files: ["a.txt"] }), (e: unknown) => isWorkspaceSyncError(e, "INVALID_PATH") && /changed while/.test(e.message));

  assert.ok(done());
  assert.deepEqual(tree(f.aside), ["new/"], "the folder made by someone else is kept");
  assert.deepEqual(tree(f.outside), []);
  assert.deepEqual(tree(f.inbox), ["a.txt: INBOX"]);
});

test("a failed copy's read-only temp folder: one swapped for a link to outside, or a user's folder renamed to its name, keeps its mode", async (t) => {
  for (const how of ["link", "rename"] as const) {
    const f = await fixture(t);
    const tmp = path.join(f.ws, "docs", ".ws-sync-0123456789abcdef-0004.tmp");
    await fsp.mkdir(path.join(tmp, "ro"), { recursive: true });
    const made = fs.lstatSync(tmp);
    await fsp.writeFile(path.join(tmp, "ro", "copy.txt"), "COPY");
    const theirs = how === "link" ? path.join(f.outside, "ro") : path.join(f.ws, "projects");
    await fsp.mkdir(theirs);
    await fsp.writeFile(path.join(theirs, "plan.md"), "THEIRS");
    await fsp.chmod(theirs, 0o555);
    await fsp.chmod(path.join(tmp, "ro"), 0o555);
    t.after(() => fsp.chmod(theirs, 0o755).catch(() => undefined));
    // Right after the removal looked at `ro` (a read-only folder of the copy), before its mode is given back.
    let done = false;
    hook(t, "lstat", async (original, args) => {
      const st = await original(...args);
      if (!done && names(args[0], "ro")) {
        done = true;
        if (how === "link") swapForLink(path.join(tmp, "ro"), f.aside, theirs);
        else {
          fs.renameSync(path.join(tmp, "ro"), f.aside);
          fs.renameSync(theirs, path.join(tmp, "ro"));
        }
      }
      return st;
    });
    const swapped = () => done;
    const ws = await WorkspaceFs.open(f.ws);
    await ws.removeOwnTree("docs/.ws-sync-0123456789abcdef-0004.tmp", made);
    assert.ok(swapped(), `the swap was made (${how})`);
    const now = how === "link" ? theirs : path.join(tmp, "ro");
    assert.equal(fs.statSync(now).mode & 0o777, 0o555, `their folder's mode is not changed (${how})`);
    assert.deepEqual(tree(now), ["plan.md: THEIRS"], `nor its file removed (${how})`);
    assert.equal(fs.statSync(f.aside).mode & 0o777, 0o555, `the copy's folder moved away is not reached either (${how})`);
    await fsp.chmod(f.aside, 0o755);
    await fsp.chmod(now, 0o755);
  }
});

test("the folder a target folder is made in removed right before the mkdir: the target is said to have changed, nothing moved", async (t) => {
  const f = await fixture(t);
  await fsp.mkdir(path.join(f.ws, "docs"));
  await fsp.writeFile(path.join(f.inbox, "a.txt"), "INBOX");
  const done = swapAt(t, "mkdir", undefined, () => fs.rmdirSync(path.join(f.ws, "docs")));

  await assert.rejects(moveFromInbox({ workspaceDir: f.ws, target: "docs/new", files: ["a.txt"] }), (e: unknown) => isWorkspaceSyncError(e, "INVALID_PATH") && /changed while/.test(e.message));

  assert.ok(done(), "the folder was removed");
  assert.deepEqual(tree(f.ws), ["_inbox/", "_inbox/a.txt: INBOX"]);
});

test("across devices, a user's folder renamed to the copy's temp name before it is made: it is not taken for the copy, nor emptied", async (t) => {
  const f = await fixture(t);
  await fsp.mkdir(path.join(f.inbox, "photos"));
  await fsp.writeFile(path.join(f.inbox, "photos", "p.jpg"), "INBOX");
  await fsp.mkdir(path.join(f.ws, "docs", "secret", "inner"), { recursive: true });
  await fsp.writeFile(path.join(f.ws, "docs", "secret", "plan.md"), "USER");
  await fsp.writeFile(path.join(f.ws, "docs", "secret", "inner", "notes.md"), "USER");
  crossDevice(t, "photos");
  let taken: string | undefined;
  hook(t, "mkdir", async (original, args) => {
    const name = path.basename(String(args[0]));
    if (taken === undefined && name.startsWith(".ws-sync-")) {
      taken = name;
      fs.renameSync(path.join(f.ws, "docs", "secret"), path.join(f.ws, "docs", name));
    }
    return original(...args);
  });

  await moveFromInbox({ workspaceDir: f.ws, target: "docs", files: ["photos"] });

  assert.ok(taken, "the user's folder took the temp name");
  assert.deepEqual(tree(path.join(f.ws, "docs", taken)), ["inner/", "inner/notes.md: USER", "plan.md: USER"], "the user's folder and files are kept");
});

test("across devices, a failed copy: a user's folder renamed to the temp name as its removal starts is left whole", async (t) => {
  const f = await fixture(t);
  await fsp.mkdir(path.join(f.inbox, "photos"));
  await fsp.writeFile(path.join(f.inbox, "photos", "a.txt"), "INBOX");
  await fsp.writeFile(path.join(f.inbox, "photos", "b.txt"), "INBOX");
  await fsp.mkdir(path.join(f.ws, "docs"));
  await fsp.mkdir(path.join(f.ws, "projects"));
  await fsp.writeFile(path.join(f.ws, "projects", "plan.md"), "USER");
  crossDevice(t, "photos");
  // The copy of b.txt fails (the disk is full): the partial copy is removed.
  let failed = false;
  hook(t, "open", async (original, args) => {
    if (!failed && names(args[0], "b.txt") && typeof args[1] === "number" && (args[1] & fs.constants.O_CREAT) !== 0) {
      failed = true;
      throw Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" });
    }
    return original(...args);
  });
  // Right after the removal's first look at the temp folder, the copy moves aside and the user's folder takes its name.
  let swapped: string | undefined;
  hook(t, "lstat", async (original, args) => {
    const st = await original(...args);
    const name = path.basename(String(args[0]));
    if (failed && swapped === undefined && name.startsWith(".ws-sync-")) {
      swapped = name;
      fs.renameSync(path.join(f.ws, "docs", name), f.aside);
      fs.renameSync(path.join(f.ws, "projects"), path.join(f.ws, "docs", name));
    }
    return st;
  });

  const r = await moveFromInbox({ workspaceDir: f.ws, target: "docs", files: ["photos"] });

  assert.ok(failed && swapped, "the copy failed and the swap was made");
  assert.deepEqual(tree(path.join(f.ws, "docs", swapped)), ["plan.md: USER"], "the user's folder is kept");
  assert.deepEqual(r.moved, []);
});

test("a failed copy's temp folder that cannot be held open is left, never emptied by its path (a link swapped in would be followed)", async (t) => {
  const f = await fixture(t);
  const tmp = path.join(f.ws, "docs", ".ws-sync-0123456789abcdef-0005.tmp");
  await fsp.mkdir(tmp, { recursive: true });
  const made = fs.lstatSync(tmp);
  await fsp.writeFile(path.join(tmp, "secret.txt"), "COPY");
  await fsp.writeFile(path.join(f.outside, "secret.txt"), "OUTSIDE");
  // Its open refused once (as for a folder swapped for an unreadable one and back), then, at the
  // look at its file, the folder swapped for a link to outside.
  let refused = false;
  hook(t, "open", async (original, args) => {
    if (!refused && names(args[0], path.basename(tmp))) {
      refused = true;
      throw Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" });
    }
    return original(...args);
  });
  let swapped = false;
  hook(t, "lstat", async (original, args) => {
    const st = await original(...args);
    if (!swapped && names(args[0], "secret.txt")) {
      swapped = true;
      swapForLink(tmp, f.aside, f.outside);
    }
    return st;
  });
  const ws = await WorkspaceFs.open(f.ws);
  await ws.removeOwnTree("docs/.ws-sync-0123456789abcdef-0005.tmp", made);
  assert.ok(refused, "the open was refused");
  assert.deepEqual(tree(f.outside), ["secret.txt: OUTSIDE"], "nothing removed outside");
});
