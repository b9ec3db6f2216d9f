import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  commandParams,
  endOfNewText,
  inlineEditParams,
  NextEditState,
  PENDING_CONTEXT,
  readAnswer,
  showsAsGhostText,
  shownText,
  tabAction,
} from "../src/nextEdit";

const URI = "file:///work/area.py";
const ANSWER = {
  edits: [
    {
      text: "size",
      range: { start: { line: 1, character: 19 }, end: { line: 1, character: 25 } },
      textDocument: { uri: URI, version: 2 },
      command: { title: "Accept the next edit", command: "infill.nextEdit.accept", arguments: ["nes-1"] },
    },
  ],
};

test("the request asks about the document's version at the cursor", () => {
  assert.deepEqual(inlineEditParams(URI, 7, { line: 3, character: 4 }), {
    textDocument: { uri: URI, version: 7 },
    position: { line: 3, character: 4 },
  });
});

test("the server's answer becomes one suggestion for that document and version", () => {
  const edit = readAnswer(ANSWER, URI, 2);
  assert.deepEqual(edit, {
    text: "size",
    range: ANSWER.edits[0].range,
    uri: URI,
    version: 2,
    command: ANSWER.edits[0].command,
  });
});

test("no edits, malformed answers and answers about another version or document are no suggestion", () => {
  const item = ANSWER.edits[0];
  for (const answer of [
    { edits: [] },
    null,
    undefined,
    "edits",
    { edits: "x" },
    { edits: [null] },
    { edits: [{ ...item, text: 3 }] },
    { edits: [{ ...item, range: { start: { line: -1, character: 0 }, end: { line: 0, character: 0 } } }] },
    { edits: [{ ...item, range: { start: { line: 2, character: 0 }, end: { line: 1, character: 0 } } }] },
    { edits: [{ ...item, range: { start: { line: 1, character: 0.5 }, end: { line: 1, character: 2 } } }] },
    { edits: [{ ...item, textDocument: { uri: URI, version: 3 } }] },
    { edits: [{ ...item, textDocument: { uri: "file:///other.py", version: 2 } }] },
    { edits: [{ ...item, text: "", range: { start: { line: 1, character: 2 }, end: { line: 1, character: 2 } } }] },
  ]) {
    assert.equal(readAnswer(answer, URI, 2), undefined, JSON.stringify(answer));
  }
});

test("an item without a command is still shown; accepting it then runs no server command", () => {
  const { command: _, ...bare } = ANSWER.edits[0];
  const edit = readAnswer({ edits: [bare] }, URI, 2);
  assert.ok(edit);
  assert.equal(commandParams(edit, "infill.nextEdit.accept"), undefined);
  assert.deepEqual(commandParams(readAnswer(ANSWER, URI, 2)!, "infill.nextEdit.dismiss"), {
    command: "infill.nextEdit.dismiss",
    arguments: ["nes-1"],
  });
});

test("only a same-line edit that extends what is typed shows as ghost text; others as decorations", () => {
  const edit = (line: number, start: number, end: number, text: string) =>
    readAnswer({ edits: [{ text, range: { start: { line, character: start }, end: { line, character: end } } }] }, URI, 1)!;
  const line = "    total = add(a, ";
  const cursor = { line: 4, character: line.length };
  assert.equal(showsAsGhostText(edit(4, line.length, line.length, "b)"), cursor, line), true);
  assert.equal(showsAsGhostText(edit(4, 12, line.length, "add(a, b)"), cursor, line), true); // keeps "add(a, "
  assert.equal(showsAsGhostText(edit(4, 12, 15, "sum"), cursor, line), false); // before the cursor
  assert.equal(showsAsGhostText(edit(4, 12, line.length, "sum(a, b)"), cursor, line), false); // rewrites typed text
  assert.equal(showsAsGhostText(edit(5, 0, 0, "x"), cursor, line), false); // another line
  assert.equal(showsAsGhostText(edit(4, line.length, line.length, "b\n"), cursor, line), false);
});

test("Tab goes to the edit first, then applies it once the cursor is in it", () => {
  const edit = readAnswer(ANSWER, URI, 2)!;
  assert.equal(tabAction(edit, { line: 0, character: 20 }), "jump");
  assert.equal(tabAction(edit, { line: 1, character: 0 }), "jump");
  assert.equal(tabAction(edit, { line: 1, character: 19 }), "apply");
  assert.equal(tabAction(edit, { line: 1, character: 25 }), "apply");
  assert.equal(tabAction(edit, { line: 1, character: 26 }), "jump");
});

test("after applying, the cursor goes to the end of the new text", () => {
  const edit = readAnswer(ANSWER, URI, 2)!;
  assert.deepEqual(endOfNewText(edit), { line: 1, character: 23 });
  assert.deepEqual(endOfNewText({ ...edit, text: "a\nbc" }), { line: 2, character: 2 });
  assert.equal(shownText("a\nb\r\nc"), "a⏎b⏎c");
});

test("an answer counts only while its request is the latest and the version the same", () => {
  const state = new NextEditState();
  const first = state.ask(URI, 2);
  assert.equal(state.answered(first, URI, 2), true);
  const second = state.ask(URI, 3);
  assert.equal(state.answered(first, URI, 2), false); // superseded
  assert.equal(state.answered(second, URI, 3), true);
  state.shown = readAnswer({ edits: [{ ...ANSWER.edits[0], textDocument: { uri: URI, version: 3 } }] }, URI, 3);
  assert.ok(state.showing(URI, 3));
  assert.equal(state.showing(URI, 4), undefined); // the document moved on
  assert.equal(state.showing("file:///other.py", 3), undefined);
  assert.ok(state.changed()); // a change hides it and drops the request
  assert.equal(state.showing(URI, 3), undefined);
  assert.equal(state.answered(second, URI, 3), false);
});

test("Tab and Esc act on a next edit only while one is pending and no ghost text or suggest widget shows", () => {
  const packageJson = JSON.parse(readFileSync(join(__dirname, "..", "..", "package.json"), "utf8"));
  const bindings = packageJson.contributes.keybindings.filter((k: { command: string }) =>
    k.command.startsWith("infill.action.nextEdit"),
  );
  assert.deepEqual(bindings.map((k: { key: string }) => k.key).sort(), ["escape", "tab"]);
  for (const binding of bindings) {
    for (const clause of [PENDING_CONTEXT, "!inlineSuggestionVisible", "!suggestWidgetVisible", "editorTextFocus"]) {
      assert.ok(binding.when.includes(clause), `${binding.key}: ${binding.when} lacks ${clause}`);
    }
  }
});
