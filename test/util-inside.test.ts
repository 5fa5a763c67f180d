import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { isInside } from "../src/util/inside.js";

test("isInside(parent, child): the parent itself and paths under it, nothing beside or above", () => {
  const root = path.resolve("/ws/root");
  assert.equal(isInside(root, root), true);
  assert.equal(isInside(root, path.join(root, "a", "b")), true);
  assert.equal(isInside(root, path.join(root, "..notes")), true, "a name starting with .. is inside");
  assert.equal(isInside(root, path.resolve("/ws/root2")), false, "a sibling sharing the prefix is outside");
  assert.equal(isInside(root, path.resolve("/ws")), false);
  assert.equal(isInside(root, path.resolve("/elsewhere/x")), false);
  assert.equal(isInside(path.join(root, "a"), root), false, "the argument order matters: parent first");
});
