import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  EXTENSION_SETTINGS,
  SERVER_SETTINGS,
  documentSelector,
  forServer,
  languageIds,
  needsRestart,
  resolveServerCommand,
  serverLanguages,
  toServerSettings,
  USER_ONLY_SETTINGS,
} from "../src/settings";

const from = (values: Record<string, unknown>) => (key: string) => values[key];

test("settings the user did not set are left to the server's defaults", () => {
  assert.deepEqual(toServerSettings(from({})), {});
  assert.deepEqual(toServerSettings(from({ maxLines: 4 })), { maxLines: 4 });
  assert.deepEqual(toServerSettings(from({ "engine.device": "cpu" })), { engine: { device: "cpu" } });
});

test("every contributed setting reaches initializationOptions under the server's key", () => {
  const settings = toServerSettings(
    from({
      "engine.mode": "inproc",
      "engine.modelDir": " /models/tiny ",
      "engine.device": "cuda:1",
      "engine.socket": "/tmp/e.sock",
      debounceMs: 75,
      maxLines: 3,
      maxSteps: 16,
      numCandidates: 3,
      languages: ["python", "rust"],
    }),
  );
  assert.deepEqual(settings, {
    engine: { mode: "inproc", modelDir: "/models/tiny", device: "cuda:1", socket: "/tmp/e.sock" },
    debounceMs: 75,
    maxLines: 3,
    maxSteps: 16,
    numCandidates: 3,
    languages: ["python", "rust"],
  });
});

test("mistyped values are left out field by field, so the server keeps its defaults", () => {
  const settings = toServerSettings(
    from({
      "engine.mode": "telepathy",
      "engine.device": "tpu",
      "engine.dtype": "float8",
      maxLines: 2.5,
      maxSteps: "many",
      eventLog: "no",
      languages: ["python", 3, ""],
    }),
  );
  assert.deepEqual(settings, { languages: ["python"] });
});

test("integers out of range reach the server, which reports them and keeps its defaults", () => {
  assert.deepEqual(toServerSettings(from({ debounceMs: -1, numCandidates: 99 })), { debounceMs: -1, numCandidates: 99 });
});

test("the engine's dtype and backend, timeouts and switches reach the server", () => {
  const settings = toServerSettings(
    from({
      "engine.dtype": "bfloat16",
      "engine.backend": "onnx",
      "engine.idleExitSeconds": 0,
      requestTimeoutMs: 8000,
      invokedSteps: 32,
      eventLog: false,
    }),
  );
  assert.deepEqual(settings, {
    engine: { dtype: "bfloat16", backend: "onnx", idleExitSeconds: 0 },
    requestTimeoutMs: 8000,
    invokedSteps: 32,
    eventLog: false,
  });
});

test("the extension passes on every server setting its package.json contributes, and no other", () => {
  const packageJson = JSON.parse(readFileSync(join(__dirname, "..", "..", "package.json"), "utf8"));
  const contributed = Object.keys(packageJson.contributes.configuration.properties)
    .filter((key) => key !== "infill.serverPath" && key !== "infill.serverArgs")
    .map((key) => key.slice("infill.".length));
  assert.deepEqual(SERVER_SETTINGS.map(([key]) => key).sort(), contributed.sort());
});

test("the server is told not to offer next edits as inline completions: the extension shows them itself", () => {
  assert.deepEqual(forServer(from({})), { nextEditInlineCompletion: false });
  assert.deepEqual(forServer(from({ maxLines: 4, nextEditInlineCompletion: true })), {
    maxLines: 4,
    nextEditInlineCompletion: false,
  });
  const packageJson = JSON.parse(readFileSync(join(__dirname, "..", "..", "package.json"), "utf8"));
  for (const key of Object.keys(EXTENSION_SETTINGS)) {
    assert.equal(packageJson.contributes.configuration.properties[`infill.${key}`], undefined, key);
  }
});

test("the remote engine's address and key come from the user's settings only", () => {
  const packageJson = JSON.parse(readFileSync(join(__dirname, "..", "..", "package.json"), "utf8"));
  const properties = packageJson.contributes.configuration.properties;
  for (const key of USER_ONLY_SETTINGS) assert.equal(properties[`infill.${key}`].scope, "machine", key);
  assert.deepEqual(toServerSettings(from({ "engine.url": "https://gpu:8012", "engine.apiKeyFile": "~/.k" })).engine, {
    url: "https://gpu:8012",
    apiKeyFile: "~/.k",
  });
});

test("VS Code language ids become the server's language names", () => {
  assert.deepEqual(serverLanguages(["python", "typescriptreact", "javascriptreact", "javascript", "plaintext"]), [
    "python",
    "tsx",
    "javascript",
    "text",
  ]);
  assert.deepEqual(toServerSettings(from({ languages: ["typescriptreact"] })).languages, ["tsx"]);
  assert.deepEqual(languageIds([" go ", 3, "", null]), ["go"]);
  assert.deepEqual(languageIds("python"), []);
});

test("an empty model dir is left out so the server uses its embedded model", () => {
  assert.deepEqual(toServerSettings(from({ "engine.modelDir": "  ", "engine.mode": "inproc" })).engine, { mode: "inproc" });
});

test("the default server path prefers a workspace virtualenv", () => {
  const exists = (p: string) => p === "/proj/b/venv/bin/infill";
  const command = resolveServerCommand("infill", undefined, { folders: ["/proj/a", "/proj/b"], exists, platform: "linux" });
  assert.deepEqual(command, { command: "/proj/b/venv/bin/infill", args: ["serve"] });
});

test("the default server path falls back to PATH", () => {
  const command = resolveServerCommand(undefined, ["serve", "--log-level", "debug"], {
    folders: ["/proj"],
    exists: () => false,
    platform: "linux",
  });
  assert.deepEqual(command, { command: "infill", args: ["serve", "--log-level", "debug"] });
});

test("windows virtualenvs keep the script under Scripts", () => {
  const exists = (p: string) => p === "C:\\proj\\.venv\\Scripts\\infill.exe";
  const command = resolveServerCommand("infill", null, { folders: ["C:\\proj"], exists, platform: "win32" });
  assert.equal(command.command, "C:\\proj\\.venv\\Scripts\\infill.exe");
});

test("an explicit server path is used as given, with ${workspaceFolder} expanded", () => {
  const context = { folders: ["/proj"], exists: () => true, platform: "linux" };
  assert.equal(resolveServerCommand("${workspaceFolder}/env/bin/infill", [], context).command, "/proj/env/bin/infill");
  assert.deepEqual(resolveServerCommand("/opt/infill", [1, 2], context).args, ["serve"]);
});

test("the document selector follows the languages setting", () => {
  assert.deepEqual(documentSelector([]), [{ scheme: "file" }, { scheme: "untitled" }]);
  assert.deepEqual(documentSelector(["go"]), [
    { scheme: "file", language: "go" },
    { scheme: "untitled", language: "go" },
  ]);
});

test("only launch settings restart the server", () => {
  assert.equal(needsRestart((key) => key === "infill.serverPath"), true);
  assert.equal(needsRestart((key) => key === "infill.languages"), true);
  assert.equal(needsRestart((key) => key === "infill.maxLines"), false);
});
