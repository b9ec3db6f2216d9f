import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  acceptedParams,
  cursorParams,
  fillSelectionCommand,
  insertedText,
  itemText,
  positionCommand,
  restartCommand,
  SuggestionTracker,
} from "../src/commands";

const RANGE = { start: { line: 1, character: 4 }, end: { line: 3, character: 0 } };

test("fill selection carries uri, range and the instruction when there is one", () => {
  assert.deepEqual(fillSelectionCommand("file:///a.py", RANGE, "  use a loop "), {
    command: "infill.fillSelection",
    arguments: [{ uri: "file:///a.py", range: RANGE, instruction: "use a loop" }],
  });
});

test("an empty instruction is left out", () => {
  for (const instruction of [undefined, "", "   "]) {
    const [args] = fillSelectionCommand("file:///a.py", RANGE, instruction).arguments as object[];
    assert.equal("instruction" in args, false);
  }
});

test("editor positions are copied to plain LSP positions", () => {
  // VS Code's Position objects carry methods; only line and character go on the wire
  const vscodeLike = { line: 2, character: 7, translate: () => null };
  const params = positionCommand("infill.completeBody", "file:///a.py", vscodeLike);
  assert.deepEqual(params, { command: "infill.completeBody", arguments: [{ uri: "file:///a.py", position: { line: 2, character: 7 } }] });
  assert.equal(JSON.stringify(params).includes("translate"), false);
  assert.equal(positionCommand("infill.writeDocstring", "u", vscodeLike).command, "infill.writeDocstring");
});

test("restart takes no arguments", () => {
  assert.deepEqual(restartCommand(), { command: "infill.restartEngine", arguments: [] });
});

test("accepted notifications say whether they were partial", () => {
  assert.deepEqual(acceptedParams("u", "foo", true), { uri: "u", text: "foo", partial: true });
});

test("inserted text is the part of the document an accept added", () => {
  assert.equal(insertedText("x = \ny = 2\n", "x = foo(1)\ny = 2\n"), "foo(1)");
  assert.equal(insertedText("ab", "abb"), "b");
  assert.equal(insertedText("", "hello"), "hello");
  assert.equal(insertedText("same", "same"), "");
  // a fill that types a closing bracket over the one after the cursor inserts only what is new
  assert.equal(insertedText("f()\n", "f(a, b)\n"), "a, b");
});

test("item text reads snippet strings too", () => {
  assert.equal(itemText("abc"), "abc");
  assert.equal(itemText({ value: "x${1}" }), "x${1}");
});

test("the tracker reports a dismiss once, and only for an offered suggestion", () => {
  const tracker = new SuggestionTracker();
  assert.equal(tracker.settle("u"), false);
  tracker.offered("u", "foo");
  assert.equal(tracker.has("u"), true);
  assert.equal(tracker.settle("u"), true);
  assert.equal(tracker.settle("u"), false);
  tracker.offered("u", "foo");
  tracker.offered("u", "");
  assert.equal(tracker.has("u"), false);
});

test("the pure modules do not import vscode", () => {
  for (const name of ["settings", "status", "commands"]) {
    const source = readFileSync(join(__dirname, "..", "..", "src", `${name}.ts`), "utf8");
    assert.doesNotMatch(source, /from\s+["']vscode["']|require\(["']vscode["']\)/, name);
  }
});

test("package.json contributes every setting the mapping reads", () => {
  const pkg = JSON.parse(readFileSync(join(__dirname, "..", "..", "package.json"), "utf8"));
  const properties = Object.keys(pkg.contributes.configuration.properties);
  for (const key of [
    "serverPath",
    "engine.mode",
    "engine.modelDir",
    "engine.device",
    "debouncePolicy",
    "debounceMs",
    "maxLines",
    "maxSteps",
    "numCandidates",
    "languages",
  ]) {
    assert.ok(properties.includes(`infill.${key}`), key);
  }
  const commands = new Set(pkg.contributes.commands.map((c: { command: string }) => c.command));
  for (const binding of pkg.contributes.keybindings) {
    assert.ok(commands.has(binding.command), binding.command);
  }
});

test("a cursor move names the document, its version and the position", () => {
  assert.deepEqual(cursorParams("file:///a.py", 7, { line: 3, character: 12 }), {
    textDocument: { uri: "file:///a.py", version: 7 },
    position: { line: 3, character: 12 },
  });
});
