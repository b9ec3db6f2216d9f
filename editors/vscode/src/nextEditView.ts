/**
 * Shows the server's next edits in VS Code: asks `textDocument/copilotInlineEdit` after a change (debounced
 * `infill.nextEditDebounceMs`), draws the answer (ghost text when it extends what is typed on the cursor's line,
 * else decorations: the replaced text struck through, the new text after it, a hint and a gutter mark), and
 * lets Tab go to it and apply it, Esc dismiss it.
 */

import * as vscode from "vscode";
import type { LanguageClient } from "vscode-languageclient/node";
import { ExecuteCommandRequest } from "vscode-languageclient/node";
import {
  ACCEPT_COMMAND,
  commandParams,
  DEFAULT_DEBOUNCE_MS,
  DID_SHOW_NOTIFICATION,
  DISMISS_COMMAND,
  endOfNewText,
  hintText,
  INLINE_EDIT_REQUEST,
  inlineEditParams,
  type NextEdit,
  NextEditState,
  PENDING_CONTEXT,
  readAnswer,
  showsAsGhostText,
  shownText,
  tabAction,
} from "./nextEdit";

const GUTTER_ICON =
  "data:image/svg+xml;utf8," +
  encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><path d="M4 3l6 5-6 5z" fill="#3794ff"/></svg>',
  );

export interface NextEditHost {
  /** The running language client, if any. */
  client(): LanguageClient | undefined;
  /** Whether the extension serves this document (its language selector). */
  serves(document: vscode.TextDocument): boolean;
  log(message: string): void;
}

export class NextEditView implements vscode.Disposable {
  private readonly state = new NextEditState();
  private timer: NodeJS.Timeout | undefined;
  private request: vscode.CancellationTokenSource | undefined;
  /** The suggestion the inline completion provider is to show (same-line edits extending what is typed). */
  private ghost: NextEdit | undefined;
  private readonly removed = vscode.window.createTextEditorDecorationType({
    textDecoration: "line-through",
    backgroundColor: new vscode.ThemeColor("diffEditor.removedTextBackground"),
    rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
  });
  private readonly added = vscode.window.createTextEditorDecorationType({
    rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
  });
  private readonly line = vscode.window.createTextEditorDecorationType({
    isWholeLine: true,
    gutterIconPath: vscode.Uri.parse(GUTTER_ICON),
    gutterIconSize: "contain",
    overviewRulerColor: new vscode.ThemeColor("editorOverviewRuler.modifiedForeground"),
    overviewRulerLane: vscode.OverviewRulerLane.Right,
  });
  private readonly disposables: vscode.Disposable[];
  private pendingContext = false;

  constructor(private readonly host: NextEditHost) {
    this.disposables = [
      this.removed,
      this.added,
      this.line,
      vscode.workspace.onDidChangeTextDocument((event) => this.onChange(event)),
      vscode.window.onDidChangeActiveTextEditor(() => this.clear()),
      vscode.window.onDidChangeTextEditorSelection((event) => this.onSelection(event)),
      vscode.workspace.onDidCloseTextDocument(() => this.clearIfStale()),
    ];
  }

  dispose(): void {
    this.clear();
    for (const d of this.disposables) d.dispose();
  }

  /** The suggestion for `document` to show as the ghost text of an inline completion at `position`. */
  ghostFor(document: vscode.TextDocument, position: vscode.Position): NextEdit | undefined {
    const g = this.ghost;
    if (!g || g.uri !== document.uri.toString() || g.version !== document.version) return undefined;
    return showsAsGhostText(g, position, document.lineAt(position.line).text) ? g : undefined;
  }

  /** The ghost-text suggestion was shown by the inline completion provider. */
  ghostShown(edit: NextEdit): void {
    this.didShow(edit);
  }

  /** The ghost-text suggestion was accepted (its item's command ran, after VS Code applied it). */
  ghostAccepted(edit: NextEdit): void {
    if (this.ghost === edit) this.ghost = undefined;
    this.runServerCommand(edit, ACCEPT_COMMAND);
  }

  /** Esc while the ghost text of a suggestion shows: true when it was one of ours (and is now dismissed). */
  dismissGhost(uri: string): boolean {
    const g = this.ghost;
    if (!g || g.uri !== uri) return false;
    this.ghost = undefined;
    this.runServerCommand(g, DISMISS_COMMAND);
    return true;
  }

  /** Tab: go to the shown suggestion, or apply it when the cursor is there. */
  async tab(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    const edit = editor && this.state.showing(editor.document.uri.toString(), editor.document.version);
    if (!editor || !edit) {
      this.clear();
      return;
    }
    const range = toRange(edit);
    if (tabAction(edit, editor.selection.active) === "jump") {
      editor.selection = new vscode.Selection(range.start, range.start);
      editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
      this.draw(editor, edit);
      return;
    }
    this.clear();
    if (editor.document.version !== edit.version) return; // typed meanwhile: never a wrong edit
    const workspaceEdit = new vscode.WorkspaceEdit();
    workspaceEdit.replace(editor.document.uri, range, edit.text);
    const applied = await vscode.workspace.applyEdit(workspaceEdit);
    if (!applied) {
      this.host.log(`next edit: VS Code did not apply the edit at line ${edit.range.start.line + 1}`);
      return;
    }
    const end = endOfNewText(edit);
    const at = new vscode.Position(end.line, end.character);
    if (vscode.window.activeTextEditor === editor) editor.selection = new vscode.Selection(at, at);
    this.runServerCommand(edit, ACCEPT_COMMAND);
  }

  /** Esc: hide the shown suggestion and tell the server it was turned down. */
  dismiss(): void {
    const shown = this.state.shown;
    this.clear();
    if (shown) this.runServerCommand(shown, DISMISS_COMMAND);
  }

  /** Forget and hide every suggestion, cancel what was asked (a change, another editor, the setting off). */
  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.request?.cancel();
    this.request = undefined;
    this.ghost = undefined;
    this.state.changed();
    for (const editor of vscode.window.visibleTextEditors) {
      editor.setDecorations(this.removed, []);
      editor.setDecorations(this.added, []);
      editor.setDecorations(this.line, []);
    }
    this.setPending(false);
  }

  private setPending(value: boolean): void {
    if (this.pendingContext === value) return;
    this.pendingContext = value;
    void vscode.commands.executeCommand("setContext", PENDING_CONTEXT, value);
  }

  private clearIfStale(): void {
    const editor = vscode.window.activeTextEditor;
    const shown = this.state.shown;
    if (shown && (!editor || !this.state.showing(editor.document.uri.toString(), editor.document.version))) {
      this.clear();
    }
  }

  private enabled(): boolean {
    const config = vscode.workspace.getConfiguration("infill");
    return config.get<boolean>("nextEdit", true) !== false;
  }

  private debounceMs(): number {
    const value = vscode.workspace.getConfiguration("infill").get<number>("nextEditDebounceMs", DEFAULT_DEBOUNCE_MS);
    return typeof value === "number" && Number.isFinite(value) && value >= 0 ? Math.min(value, 10_000) : DEFAULT_DEBOUNCE_MS;
  }

  private onChange(event: vscode.TextDocumentChangeEvent): void {
    if (event.contentChanges.length === 0) return; // a save or a dirty-state change
    const editor = vscode.window.activeTextEditor;
    if (!editor || editor.document !== event.document) return;
    this.clear();
    if (!this.enabled() || !this.host.serves(event.document) || !this.host.client()) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.ask(editor);
    }, this.debounceMs());
  }

  /** A cursor move within the shown suggestion's document redraws its hint; the suggestion stays. */
  private onSelection(event: vscode.TextEditorSelectionChangeEvent): void {
    const edit = this.state.showing(event.textEditor.document.uri.toString(), event.textEditor.document.version);
    if (edit && vscode.window.activeTextEditor === event.textEditor) this.draw(event.textEditor, edit);
  }

  private async ask(editor: vscode.TextEditor): Promise<void> {
    const client = this.host.client();
    if (!client || vscode.window.activeTextEditor !== editor || editor.document.isClosed) return;
    const document = editor.document;
    const uri = document.uri.toString();
    const version = document.version;
    const seq = this.state.ask(uri, version);
    const source = new vscode.CancellationTokenSource();
    this.request = source;
    let answer: unknown;
    try {
      answer = await client.sendRequest(INLINE_EDIT_REQUEST, inlineEditParams(uri, version, editor.selection.active), source.token);
    } catch (error) {
      if (!source.token.isCancellationRequested) this.host.log(`next edit: the request failed: ${String(error)}`);
      return; // quiet: no suggestion
    } finally {
      if (this.request === source) this.request = undefined;
      source.dispose();
    }
    if (!this.state.answered(seq, uri, version) || document.version !== version) return;
    if (vscode.window.activeTextEditor !== editor) return;
    const edit = readAnswer(answer, uri, version);
    if (!edit || !this.inDocument(document, edit)) return;
    const where = `line ${edit.range.start.line + 1}:${edit.range.start.character + 1}`;
    if (showsAsGhostText(edit, editor.selection.active, document.lineAt(editor.selection.active.line).text)) {
      this.host.log(`next edit at ${where} shown as ghost text: ${JSON.stringify(edit.text)}`);
      this.ghost = edit;
      await vscode.commands.executeCommand("editor.action.inlineSuggest.trigger");
      return;
    }
    this.host.log(`next edit at ${where} shown: ${JSON.stringify(edit.text)}`);
    this.state.shown = edit;
    this.draw(editor, edit);
    this.didShow(edit);
    this.setPending(true);
  }

  private inDocument(document: vscode.TextDocument, edit: NextEdit): boolean {
    const range = toRange(edit);
    return document.validateRange(range).isEqual(range);
  }

  private draw(editor: vscode.TextEditor, edit: NextEdit): void {
    const range = toRange(edit);
    const newText = shownText(edit.text);
    const colors = {
      color: new vscode.ThemeColor("editorGhostText.foreground"),
      backgroundColor: new vscode.ThemeColor("diffEditor.insertedTextBackground"),
      border: "1px solid",
      borderColor: new vscode.ThemeColor("diffEditor.insertedLineBackground"),
    };
    editor.setDecorations(this.removed, range.isEmpty ? [] : [{ range, hoverMessage: "infill: next edit replaces this" }]);
    editor.setDecorations(this.added, [
      { range: new vscode.Range(range.end, range.end), renderOptions: { after: { contentText: newText, ...colors } } },
    ]);
    const lineEnd = editor.document.lineAt(range.end.line).range.end;
    editor.setDecorations(this.line, [
      {
        range: new vscode.Range(lineEnd, lineEnd),
        renderOptions: {
          after: { contentText: hintText(tabAction(edit, editor.selection.active)), color: new vscode.ThemeColor("editorCodeLens.foreground") },
        },
      },
    ]);
  }

  private didShow(edit: NextEdit): void {
    const client = this.host.client();
    if (!client || !edit.command) return;
    const item = { text: edit.text, range: edit.range, textDocument: { uri: edit.uri, version: edit.version }, command: edit.command };
    void client.sendNotification(DID_SHOW_NOTIFICATION, { item }).catch(() => undefined);
  }

  private runServerCommand(edit: NextEdit, command: typeof ACCEPT_COMMAND | typeof DISMISS_COMMAND): void {
    const client = this.host.client();
    const params = commandParams(edit, command);
    if (!client || !params) return;
    client.sendRequest(ExecuteCommandRequest.type, params).then(undefined, (error) =>
      this.host.log(`next edit: ${command} failed: ${String(error)}`),
    );
  }
}

function toRange(edit: NextEdit): vscode.Range {
  const { start, end } = edit.range;
  return new vscode.Range(start.line, start.character, end.line, end.character);
}
