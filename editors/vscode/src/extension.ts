/** The VS Code side of infill: starts `infill serve`, wires commands, keys and the status bar to it. */

import * as fs from "node:fs";
import * as vscode from "vscode";
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  State,
} from "vscode-languageclient/node";
import {
  ACCEPTED_NOTIFICATION,
  acceptedParams,
  cursorParams,
  DISMISSED_NOTIFICATION,
  type ExecuteCommandParams,
  fillSelectionCommand,
  insertedText,
  itemText,
  MOVE_CURSOR_NOTIFICATION,
  MOVE_DEBOUNCE_MS,
  positionCommand,
  restartCommand,
  SERVER_COMMANDS,
  STATUS_REQUEST,
  SuggestionTracker,
} from "./commands";
import {
  documentSelector,
  forServer,
  languageIds,
  needsRestart,
  resolveServerCommand,
  type ServerSettings,
  USER_ONLY_SETTINGS,
} from "./settings";
import type { NextEdit } from "./nextEdit";
import { NextEditView } from "./nextEditView";
import { type ServerStatus, statusLines, statusView, unavailableView } from "./status";

const STATUS_POLL_MS = 3000;
const STATUS_TIMEOUT_MS = 2500;
const COMMAND_TIMEOUT_MS = 60_000;
const ACCEPTED_COMMAND = "infill.action.accepted";
const NEXT_EDIT_ACCEPTED_COMMAND = "infill.action.nextEditAccepted";

let client: LanguageClient | undefined;
let served: { scheme: string; language?: string }[] = [];
let moveTimer: NodeJS.Timeout | undefined;
let output: vscode.LogOutputChannel;
let statusItem: vscode.StatusBarItem;
const tracker = new SuggestionTracker();
let nextEdits: NextEditView | undefined;

/**
 * The settings the user set (any scope), mapped for the server, and the extension's own; unset ones keep the
 * server's defaults.
 */
function serverSettings(): ServerSettings {
  const config = vscode.workspace.getConfiguration("infill");
  return forServer((key) => {
    const value = config.inspect(key);
    if (USER_ONLY_SETTINGS.includes(key)) return value?.globalValue;
    return value?.workspaceFolderValue ?? value?.workspaceValue ?? value?.globalValue;
  });
}

function isExecutable(path: string): boolean {
  try {
    fs.accessSync(path, fs.constants.X_OK);
    return fs.statSync(path).isFile();
  } catch {
    return false;
  }
}

function createClient(): LanguageClient {
  const config = vscode.workspace.getConfiguration("infill");
  const folders = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
  const { command, args } = resolveServerCommand(config.get("serverPath"), config.get("serverArgs"), {
    folders,
    exists: isExecutable,
    platform: process.platform,
  });
  output.appendLine(`starting ${command} ${args.join(" ")}`);
  const serverOptions: ServerOptions = { command, args, options: { cwd: folders[0] } };
  served = documentSelector(languageIds(config.get("languages")));
  const clientOptions: LanguageClientOptions = {
    documentSelector: served,
    initializationOptions: serverSettings(),
    outputChannel: output,
    middleware: {
      provideInlineCompletionItems: async (document, position, context, token, next) => {
        const edit = nextEdits?.ghostFor(document, position);
        if (edit) {
          // a next edit on the cursor's line that extends what is typed: shown as this ghost text
          const { start, end } = edit.range;
          const range = new vscode.Range(start.line, start.character, end.line, end.character);
          const item = new vscode.InlineCompletionItem(edit.text, range, {
            command: NEXT_EDIT_ACCEPTED_COMMAND,
            title: "infill: next edit accepted",
            arguments: [edit],
          });
          nextEdits?.ghostShown(edit);
          return [item];
        }
        const result = await next(document, position, context, token);
        const items = Array.isArray(result) ? result : (result?.items ?? []);
        const uri = document.uri.toString();
        for (const item of items) {
          const text = itemText(item.insertText);
          item.command = { command: ACCEPTED_COMMAND, title: "infill: accepted", arguments: [uri, text] };
        }
        tracker.offered(uri, items.length ? itemText(items[0].insertText) : "");
        return result;
      },
      workspace: {
        // the server pulls the "infill" section: answer with the mapped settings, not the raw ones
        configuration: (params, token, next) =>
          params.items.some((i) => i.section === "infill")
            ? params.items.map((i) => (i.section === "infill" ? serverSettings() : null))
            : next(params, token),
      },
    },
  };
  return new LanguageClient("infill", "infill", serverOptions, clientOptions);
}

async function startClient(): Promise<void> {
  client = createClient();
  try {
    await client.start();
  } catch (error) {
    output.appendLine(`the server did not start: ${String(error)}`);
    void vscode.window
      .showErrorMessage(
        "infill: the language server did not start. Is `infill` installed, or `infill.serverPath` set?",
        "Open Settings",
        "Show Log",
      )
      .then((choice) => {
        if (choice === "Open Settings") {
          void vscode.commands.executeCommand("workbench.action.openSettings", "infill.serverPath");
        } else if (choice === "Show Log") {
          output.show();
        }
      });
  }
  void refreshStatus();
}

async function stopClient(): Promise<void> {
  nextEdits?.clear();
  const old = client;
  client = undefined;
  if (old && old.state !== State.Stopped) {
    await old.stop(5000).catch((error) => output.appendLine(`stopping the server: ${String(error)}`));
  }
}

function runningClient(): LanguageClient | undefined {
  return client && client.state === State.Running ? client : undefined;
}

function withTimeout<T>(promise: Thenable<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

async function refreshStatus(): Promise<ServerStatus | undefined> {
  const running = runningClient();
  if (!running) {
    show(unavailableView(client ? "the language server is starting or stopped" : "the language server is not running"));
    return undefined;
  }
  try {
    const status = await withTimeout(running.sendRequest<ServerStatus>(STATUS_REQUEST, {}), STATUS_TIMEOUT_MS, "status");
    show(statusView(status));
    return status;
  } catch (error) {
    show(unavailableView(String(error)));
    return undefined;
  }
}

function show(view: { text: string; tooltip: string; level: string }): void {
  statusItem.text = view.text;
  statusItem.tooltip = view.tooltip;
  statusItem.backgroundColor =
    view.level === "error" ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
  statusItem.show();
}

async function executeServerCommand(params: ExecuteCommandParams, title: string): Promise<void> {
  const running = runningClient();
  if (!running) {
    void vscode.window.showWarningMessage("infill: the language server is not running.");
    return;
  }
  try {
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: `infill: ${title}` },
      () => withTimeout(running.sendRequest(ExecuteCommandRequest.type, params), COMMAND_TIMEOUT_MS, title),
    );
  } catch (error) {
    void vscode.window.showErrorMessage(`infill: ${title} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function activeEditor(): vscode.TextEditor | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showInformationMessage("infill: open a file first.");
  }
  return editor;
}

async function fillSelection(): Promise<void> {
  const editor = activeEditor();
  if (!editor) return;
  if (editor.selection.isEmpty) {
    void vscode.window.showInformationMessage("infill: select the code to fill first.");
    return;
  }
  const instruction = await vscode.window.showInputBox({
    title: "infill: fill selection",
    prompt: "Instruction for the fill (optional: press Enter to fill without one)",
    placeHolder: "e.g. handle the empty list",
  });
  if (instruction === undefined) return; // Escape: cancelled
  const { start, end } = editor.selection;
  await executeServerCommand(fillSelectionCommand(editor.document.uri.toString(), { start, end }, instruction), "fill selection");
}

async function atCursor(
  command: typeof SERVER_COMMANDS.completeBody | typeof SERVER_COMMANDS.writeDocstring,
  title: string,
): Promise<void> {
  const editor = activeEditor();
  if (!editor) return;
  await executeServerCommand(positionCommand(command, editor.document.uri.toString(), editor.selection.active), title);
}

async function restartEngine(): Promise<void> {
  if (runningClient()) {
    await executeServerCommand(restartCommand(), "restart engine");
  } else {
    await stopClient();
    await startClient();
  }
  void refreshStatus();
}

async function showStatus(): Promise<void> {
  const status = await refreshStatus();
  if (!status) {
    const choice = await vscode.window.showWarningMessage("infill: the language server is not running.", "Restart", "Show Log");
    if (choice === "Restart") await restartEngine();
    if (choice === "Show Log") output.show();
    return;
  }
  const lines = statusLines(status);
  output.appendLine(lines.join("\n"));
  const choice = await vscode.window.showInformationMessage(lines[0], { detail: lines.slice(1).join("\n"), modal: false }, "Restart Engine", "Show Log");
  if (choice === "Restart Engine") await restartEngine();
  if (choice === "Show Log") output.show();
}

function notify(method: string, params: unknown): void {
  void runningClient()?.sendNotification(method, params);
}

/** Runs a built-in partial accept and reports what it inserted as a partial acceptance. */
async function acceptPart(builtin: string): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  const before = editor?.document.getText();
  await vscode.commands.executeCommand(builtin);
  if (!editor || before === undefined) return;
  const uri = editor.document.uri.toString();
  const text = insertedText(before, editor.document.getText());
  if (text && tracker.has(uri)) {
    notify(ACCEPTED_NOTIFICATION, acceptedParams(uri, text, true));
  }
}

async function dismiss(): Promise<void> {
  await vscode.commands.executeCommand("editor.action.inlineSuggest.hide");
  const uri = vscode.window.activeTextEditor?.document.uri.toString();
  if (uri && nextEdits?.dismissGhost(uri)) return;
  if (uri && tracker.settle(uri)) {
    notify(DISMISSED_NOTIFICATION, { uri });
  }
}

/** Reports where the cursor rests (debounced), so the server can encode that place before a fill is asked. */
function onSelectionChanged(event: vscode.TextEditorSelectionChangeEvent): void {
  if (moveTimer) clearTimeout(moveTimer);
  moveTimer = setTimeout(() => {
    moveTimer = undefined;
    const editor = event.textEditor;
    const document = editor.document;
    if (!runningClient() || vscode.window.activeTextEditor !== editor) return;
    if (!vscode.workspace.getConfiguration("infill").get<boolean>("warm", true)) return;
    if (vscode.languages.match(served, document) === 0) return;
    const active = editor.selection.active;
    notify(MOVE_CURSOR_NOTIFICATION, cursorParams(document.uri.toString(), document.version, active));
  }, MOVE_DEBOUNCE_MS);
}

async function onConfigurationChanged(event: vscode.ConfigurationChangeEvent): Promise<void> {
  if (!event.affectsConfiguration("infill")) return;
  if (needsRestart((key) => event.affectsConfiguration(key))) {
    await stopClient();
    await startClient();
    return;
  }
  if (event.affectsConfiguration("infill.nextEdit")) nextEdits?.clear();
  await runningClient()?.sendNotification(DidChangeConfigurationNotification.type, { settings: serverSettings() });
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("infill", { log: true });
  statusItem = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  statusItem.command = "infill.action.showStatus";
  const timer = setInterval(() => void refreshStatus(), STATUS_POLL_MS);
  const register = (id: string, run: (...args: never[]) => unknown) => vscode.commands.registerCommand(id, run);
  const view = new NextEditView({
    client: runningClient,
    serves: (document) => vscode.languages.match(served, document) > 0,
    log: (message) => output.appendLine(message),
  });
  nextEdits = view;
  context.subscriptions.push(
    view,
    { dispose: () => (nextEdits = undefined) },
    register("infill.action.nextEditTab", () => view.tab()),
    register("infill.action.nextEditDismiss", () => view.dismiss()),
    register(NEXT_EDIT_ACCEPTED_COMMAND, (edit: NextEdit) => view.ghostAccepted(edit)),
    output,
    statusItem,
    { dispose: () => clearInterval(timer) },
    { dispose: () => moveTimer && clearTimeout(moveTimer) },
    register("infill.action.fillSelection", fillSelection),
    register("infill.action.completeBody", () => atCursor(SERVER_COMMANDS.completeBody, "complete body")),
    register("infill.action.writeDocstring", () => atCursor(SERVER_COMMANDS.writeDocstring, "write docstring")),
    register("infill.action.restartEngine", restartEngine),
    register("infill.action.showStatus", showStatus),
    register("infill.action.acceptWord", () => acceptPart("editor.action.inlineSuggest.acceptNextWord")),
    register("infill.action.acceptLine", () => acceptPart("editor.action.inlineSuggest.acceptNextLine")),
    register("infill.action.dismiss", dismiss),
    register(ACCEPTED_COMMAND, (uri: string, text: string) => {
      tracker.settle(uri);
      notify(ACCEPTED_NOTIFICATION, acceptedParams(uri, text, false));
    }),
    vscode.workspace.onDidChangeConfiguration((event) => void onConfigurationChanged(event)),
    vscode.window.onDidChangeTextEditorSelection(onSelectionChanged),
  );
  await startClient();
}

export async function deactivate(): Promise<void> {
  await stopClient();
}
