/** Builds the arguments of the server's commands and notifications; no editor API in here. */

export const SERVER_COMMANDS = {
  fillSelection: "infill.fillSelection",
  completeBody: "infill.completeBody",
  writeDocstring: "infill.writeDocstring",
  restartEngine: "infill.restartEngine",
} as const;

export const STATUS_REQUEST = "infill/status";
export const ACCEPTED_NOTIFICATION = "infill/accepted";
export const DISMISSED_NOTIFICATION = "infill/dismissed";
/** Where the cursor rests: the server warms the engine's cache there (editors/README.md). */
export const MOVE_CURSOR_NOTIFICATION = "infill/didMoveCursor";
/** Cursor moves closer together than this are reported once, the last one. */
export const MOVE_DEBOUNCE_MS = 100;

/** An LSP position (UTF-16 code units, which is what VS Code and its language client speak). */
export interface LspPosition {
  line: number;
  character: number;
}

export interface LspRange {
  start: LspPosition;
  end: LspPosition;
}

export interface ExecuteCommandParams {
  command: string;
  arguments: unknown[];
}

function position(p: LspPosition): LspPosition {
  return { line: p.line, character: p.character };
}

/** `infill.fillSelection`: replace `range` with a fill, following `instruction` when one is given. */
export function fillSelectionCommand(uri: string, range: LspRange, instruction?: string): ExecuteCommandParams {
  const args: { uri: string; range: LspRange; instruction?: string } = {
    uri,
    range: { start: position(range.start), end: position(range.end) },
  };
  const trimmed = instruction?.trim();
  if (trimmed) {
    args.instruction = trimmed;
  }
  return { command: SERVER_COMMANDS.fillSelection, arguments: [args] };
}

/** `infill.completeBody` and `infill.writeDocstring`: act on the definition at `at`. */
export function positionCommand(
  command: typeof SERVER_COMMANDS.completeBody | typeof SERVER_COMMANDS.writeDocstring,
  uri: string,
  at: LspPosition,
): ExecuteCommandParams {
  return { command, arguments: [{ uri, position: position(at) }] };
}

export function restartCommand(): ExecuteCommandParams {
  return { command: SERVER_COMMANDS.restartEngine, arguments: [] };
}

export interface CursorParams {
  textDocument: { uri: string; version: number };
  position: LspPosition;
}

/** The params of `infill/didMoveCursor` for the cursor at `at` of the document `uri` at `version`. */
export function cursorParams(uri: string, version: number, at: LspPosition): CursorParams {
  return { textDocument: { uri, version }, position: position(at) };
}

export interface AcceptedParams {
  uri: string;
  text: string;
  partial: boolean;
}

export function acceptedParams(uri: string, text: string, partial: boolean): AcceptedParams {
  return { uri, text, partial };
}

/**
 * The text an edit inserted, from the document before and after it (an accept only inserts, or
 * replaces closing brackets that it types again). Empty when nothing changed.
 */
export function insertedText(before: string, after: string): string {
  let start = 0;
  const limit = Math.min(before.length, after.length);
  while (start < limit && before[start] === after[start]) {
    start++;
  }
  let end = 0;
  while (end < limit - start && before[before.length - 1 - end] === after[after.length - 1 - end]) {
    end++;
  }
  return after.slice(start, after.length - end);
}

/** The text an inline completion item shows, whatever form its insert text takes. */
export function itemText(insertText: string | { value: string }): string {
  return typeof insertText === "string" ? insertText : insertText.value;
}

/**
 * Remembers which documents show one of our suggestions, so that a dismiss is reported only for
 * a suggestion that was offered and neither accepted nor dismissed yet.
 */
export class SuggestionTracker {
  private readonly pending = new Map<string, string>();

  /** The server answered for `uri`; `text` is the first item's text, "" for no items. */
  offered(uri: string, text: string): void {
    if (text) {
      this.pending.set(uri, text);
    } else {
      this.pending.delete(uri);
    }
  }

  /** The suggestion for `uri` is gone (accepted or dismissed): true when there was one. */
  settle(uri: string): boolean {
    return this.pending.delete(uri);
  }

  has(uri: string): boolean {
    return this.pending.has(uri);
  }
}
