/**
 * Next edits as the language server offers them (`textDocument/copilotInlineEdit`, editors/README.md): the
 * request's params, the answer read defensively, how a suggestion is shown and what Tab does with it.
 * No editor API in here.
 */

import type { LspPosition, LspRange } from "./commands";

export const INLINE_EDIT_REQUEST = "textDocument/copilotInlineEdit";
export const DID_SHOW_NOTIFICATION = "textDocument/didShowInlineEdit";
export const ACCEPT_COMMAND = "infill.nextEdit.accept";
export const DISMISS_COMMAND = "infill.nextEdit.dismiss";
/** The context key that is true while a next edit is shown as decorations: Tab and Esc act on it then. */
export const PENDING_CONTEXT = "infill.nextEditPending";
export const DEFAULT_DEBOUNCE_MS = 500;

export interface InlineEditParams {
  textDocument: { uri: string; version: number };
  position: LspPosition;
}

export interface ServerCommand {
  title: string;
  command: string;
  arguments: unknown[];
}

/** One suggestion of the server: replace `range` of the document at `version` with `text`. */
export interface NextEdit {
  text: string;
  range: LspRange;
  uri: string;
  version: number;
  command?: ServerCommand;
}

export function inlineEditParams(uri: string, version: number, at: LspPosition): InlineEditParams {
  return { textDocument: { uri, version }, position: { line: at.line, character: at.character } };
}

const isCount = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;

function asPosition(value: unknown): LspPosition | undefined {
  const p = value as Partial<LspPosition> | null;
  return p && typeof p === "object" && isCount(p.line) && isCount(p.character)
    ? { line: p.line, character: p.character }
    : undefined;
}

function asRange(value: unknown): LspRange | undefined {
  const r = value as { start?: unknown; end?: unknown } | null;
  if (!r || typeof r !== "object") return undefined;
  const start = asPosition(r.start);
  const end = asPosition(r.end);
  if (!start || !end || comparePositions(start, end) > 0) return undefined;
  return { start, end };
}

function asCommand(value: unknown): ServerCommand | undefined {
  const c = value as Partial<ServerCommand> | null;
  if (!c || typeof c !== "object" || typeof c.command !== "string" || !c.command) return undefined;
  return { title: typeof c.title === "string" ? c.title : "", command: c.command, arguments: Array.isArray(c.arguments) ? c.arguments : [] };
}

/**
 * The suggestion in the server's answer for the document `uri` at `version`; undefined for none, for a
 * malformed answer and for one that is about another document or version (never a wrong edit).
 */
export function readAnswer(answer: unknown, uri: string, version: number): NextEdit | undefined {
  const edits = (answer as { edits?: unknown } | null)?.edits;
  if (!Array.isArray(edits) || edits.length === 0) return undefined;
  const item = edits[0] as { text?: unknown; range?: unknown; textDocument?: { uri?: unknown; version?: unknown } } | null;
  if (!item || typeof item !== "object" || typeof item.text !== "string") return undefined;
  const range = asRange(item.range);
  if (!range) return undefined;
  const document = item.textDocument;
  if (document !== undefined && (typeof document !== "object" || document === null)) return undefined;
  if (document?.uri !== undefined && document.uri !== uri) return undefined;
  if (document?.version !== undefined && document.version !== version) return undefined;
  const replacesNothing = comparePositions(range.start, range.end) === 0 && item.text === "";
  if (replacesNothing) return undefined;
  return { text: item.text, range, uri, version, command: asCommand((item as { command?: unknown }).command) };
}

export function comparePositions(a: LspPosition, b: LspPosition): number {
  return a.line === b.line ? a.character - b.character : a.line - b.line;
}

/**
 * Whether VS Code can show `edit` as the ghost text of an inline completion at `cursor`: on the cursor's
 * line, its range around the cursor, and the range's text before the cursor a start of the new text (what is
 * typed is kept). `line` is the cursor line's text.
 */
export function showsAsGhostText(edit: NextEdit, cursor: LspPosition, line: string): boolean {
  const { start, end } = edit.range;
  if (start.line !== cursor.line || end.line !== cursor.line || edit.text.includes("\n")) return false;
  if (start.character > cursor.character || end.character < cursor.character) return false;
  const typed = line.slice(start.character, cursor.character);
  const rest = edit.text.slice(typed.length);
  return edit.text.startsWith(typed) && rest.length > 0 && rest !== line.slice(cursor.character, end.character);
}

/** How the new text of a suggestion reads beside the text it replaces: one line, line ends as "⏎". */
export function shownText(text: string): string {
  return text.replace(/\r?\n/g, "⏎");
}

/** What Tab does with a suggestion: go to it first (`jump`), apply it once the cursor is there (`apply`). */
export function tabAction(edit: NextEdit, cursor: LspPosition): "jump" | "apply" {
  const { start, end } = edit.range;
  return comparePositions(cursor, start) >= 0 && comparePositions(cursor, end) <= 0 ? "apply" : "jump";
}

/** Where the cursor goes once the edit is applied: the end of its new text. */
export function endOfNewText(edit: NextEdit): LspPosition {
  const lines = edit.text.split(/\r?\n/);
  const last = lines[lines.length - 1];
  return lines.length === 1
    ? { line: edit.range.start.line, character: edit.range.start.character + last.length }
    : { line: edit.range.start.line + lines.length - 1, character: last.length };
}

/** The params of `infill.nextEdit.accept` / `infill.nextEdit.dismiss` for `edit` (its offer's id). */
export function commandParams(edit: NextEdit, command: typeof ACCEPT_COMMAND | typeof DISMISS_COMMAND): { command: string; arguments: unknown[] } | undefined {
  if (!edit.command) return undefined;
  return { command, arguments: edit.command.arguments };
}

/** The hint at the end of the edit's line: what Tab does next. */
export function hintText(action: "jump" | "apply"): string {
  return action === "jump" ? "  ⇥ Tab: go to the next edit · Esc: dismiss" : "  ⇥ Tab: apply the next edit · Esc: dismiss";
}

/**
 * Debounce and staleness for next-edit requests, one document at a time: `changed` after each change of
 * the document (it hides what was shown and cancels what was asked), `ask` when the debounce ends; an
 * answer counts only while its document and version are the latest asked.
 */
export class NextEditState {
  private asked = 0;
  private current: { uri: string; version: number; seq: number } | undefined;
  shown: NextEdit | undefined;

  /** A change (or anything else that makes the shown suggestion stale): forget what was asked and shown. */
  changed(): NextEdit | undefined {
    const was = this.shown;
    this.shown = undefined;
    this.current = undefined;
    return was;
  }

  /** A request for `uri` at `version` goes out: its sequence number. */
  ask(uri: string, version: number): number {
    this.asked += 1;
    this.shown = undefined;
    this.current = { uri, version, seq: this.asked };
    return this.asked;
  }

  /** The answer of request `seq` arrived: whether it is still the one to show. */
  answered(seq: number, uri: string, version: number): boolean {
    const c = this.current;
    return c !== undefined && c.seq === seq && c.uri === uri && c.version === version;
  }

  /** The suggestion shown for `uri` at `version`, if that is what the document still is. */
  showing(uri: string, version: number): NextEdit | undefined {
    const s = this.shown;
    return s && s.uri === uri && s.version === version ? s : undefined;
  }
}
