/** Maps the extension's `infill.*` settings to the server's initializationOptions and launch command. */

/**
 * Reads one setting below the `infill` section, e.g. `get("engine.mode")`: the value the user set,
 * or undefined where they set none (so that the server's own defaults apply).
 */
export type SettingGetter = (key: string) => unknown;

export type EngineOptions = Record<string, unknown>;

/**
 * The object the server reads from initializationOptions and workspace/didChangeConfiguration:
 * only the settings the user set (and that are well typed), under the server's names.
 */
export interface ServerSettings {
  engine?: EngineOptions;
  languages?: string[];
  [key: string]: unknown;
}

const ENGINE_MODES = ["spawn", "connect", "inproc"];
const BACKENDS = ["auto", "torch", "onnx"];
const DTYPES = ["auto", "float32", "bfloat16", "float16"];
const DEBOUNCE_POLICIES = ["auto", "none", "fixed", "adaptive"];
const PICK_RULES = ["likelihood", "confidence"];
const DEVICE = /^(auto|cpu|mps|cuda(:\d+)?)$/;

type Check = (value: unknown) => boolean;
const isText: Check = (v) => typeof v === "string";
const isInteger: Check = (v) => typeof v === "number" && Number.isInteger(v);
const isBoolean: Check = (v) => typeof v === "boolean";
const isFraction: Check = (v) => typeof v === "number" && v >= 0 && v <= 1;
const oneOf =
  (choices: string[]): Check =>
  (v) =>
    typeof v === "string" && choices.includes(v);

/**
 * Every server setting the extension contributes (package.json; test/settings.test.ts checks that the
 * two list the same keys), with the check a value must pass to be passed on. Ranges are package.json's
 * and the server's to enforce: the server reports a value out of range and keeps its default.
 */
export const SERVER_SETTINGS: [string, Check][] = [
  ["engine.mode", oneOf(ENGINE_MODES)],
  ["engine.socket", isText],
  ["engine.url", isText],
  ["engine.apiKeyEnv", isText],
  ["engine.apiKeyFile", isText],
  ["engine.caFile", isText],
  ["engine.modelDir", isText],
  ["engine.device", (v) => typeof v === "string" && DEVICE.test(v)],
  ["engine.backend", oneOf(BACKENDS)],
  ["engine.dtype", oneOf(DTYPES)],
  ["engine.restartBackoffMs", isInteger],
  ["engine.startTimeoutMs", isInteger],
  ["engine.idleExitSeconds", isInteger],
  ["engine.promptFormat", isText],
  ["engine.promptTemplate", isText],
  ["engine.shortCanvases", isBoolean],
  ["debouncePolicy", oneOf(DEBOUNCE_POLICIES)],
  ["debounceMs", isInteger],
  ["debounceMinMs", isInteger],
  ["debounceMaxMs", isInteger],
  ["maxLines", isInteger],
  ["maxSteps", isInteger],
  ["numCandidates", isInteger],
  ["invokedSteps", isInteger],
  ["invokedCandidates", isInteger],
  ["requestTimeoutMs", isInteger],
  ["commandTimeoutMs", isInteger],
  ["prefixChars", isInteger],
  ["suffixChars", isInteger],
  ["crossFileChars", isInteger],
  ["contextDefinitions", isBoolean],
  ["contextDefinitionsMs", isInteger],
  ["contextSimilar", isBoolean],
  ["contextSimilarMs", isInteger],
  ["contextRecent", isBoolean],
  ["contextRecentMs", isInteger],
  ["indexWorkspace", isBoolean],
  ["indexMaxFiles", isInteger],
  ["indexMaxFileBytes", isInteger],
  ["indexMaxBytes", isInteger],
  ["indexExclude", Array.isArray],
  ["indexCache", isBoolean],
  ["languages", Array.isArray],
  ["completionFallback", isBoolean],
  ["speculative", isBoolean],
  ["warm", isBoolean],
  ["warmDelayMs", isInteger],
  ["eventLog", isBoolean],
  ["nextEdit", isBoolean],
  ["nextEditDebounceMs", isInteger],
  ["nextEditLinesBefore", isInteger],
  ["nextEditLinesAfter", isInteger],
  ["nextEditGate", isFraction],
  ["pick", oneOf(PICK_RULES)],
  ["minConfidence", isFraction],
];

/**
 * Where the remote engine is and how to authenticate to it, and which files are never read into context: read
 * from the user's settings only (package.json gives them the "machine" scope), so a folder's settings cannot
 * send its code, its secrets or the user's API key elsewhere.
 */
export const USER_ONLY_SETTINGS = ["engine.url", "engine.apiKeyEnv", "engine.apiKeyFile", "engine.caFile", "indexExclude"];

/** VS Code language ids whose server-side language has another name (grammars/languages.toml). */
const SERVER_LANGUAGE: Record<string, string> = {
  javascriptreact: "javascript",
  typescriptreact: "tsx",
  plaintext: "text",
};

/** The server's names for VS Code language ids, each once, in order. */
export function serverLanguages(ids: string[]): string[] {
  return [...new Set(ids.map((id) => SERVER_LANGUAGE[id] ?? id))];
}

/** The VS Code language ids of the `languages` setting: strings only, no blanks. */
export function languageIds(value: unknown): string[] {
  return Array.isArray(value)
    ? value.filter((l): l is string => typeof l === "string" && l.trim() !== "").map((l) => l.trim())
    : [];
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

/**
 * The server settings for the current configuration: the settings the user set, under the server's
 * names. Mistyped values are left out (package.json's schema flags them already), so the server keeps
 * its default for them; blank strings are left out so the server's defaults (its socket, its embedded
 * model) apply.
 */
export function toServerSettings(get: SettingGetter): ServerSettings {
  const out: ServerSettings = {};
  const engine: EngineOptions = {};
  for (const [key, check] of SERVER_SETTINGS) {
    let value = get(key);
    if (value === undefined || !check(value)) continue;
    if (typeof value === "string") {
      value = value.trim();
      if (value === "") continue;
    }
    if (key === "languages") value = serverLanguages(languageIds(value));
    if (key.startsWith("engine.")) engine[key.slice("engine.".length)] = value;
    else out[key] = value;
  }
  if (Object.keys(engine).length) out.engine = engine;
  return out;
}

/**
 * Server settings the extension sets itself, whatever the user set: it shows a next edit on the cursor's line as
 * ghost text of its own (extension.ts), so the server is not to offer it as an inline completion as well.
 * Not contributed in package.json.
 */
export const EXTENSION_SETTINGS: ServerSettings = { nextEditInlineCompletion: false };

/** What goes to the server: the settings the user set (`toServerSettings`) and the extension's own. */
export function forServer(get: SettingGetter): ServerSettings {
  return { ...toServerSettings(get), ...EXTENSION_SETTINGS };
}

export interface ServerCommand {
  command: string;
  args: string[];
}

export interface CommandContext {
  /** Absolute paths of the open workspace folders, first one first. */
  folders: string[];
  /** Whether an executable file exists at a path. */
  exists: (path: string) => boolean;
  /** `process.platform`. */
  platform: string;
}

/** Where a project-local virtual environment keeps the `infill` script, relative to its folder. */
export function venvCandidates(platform: string): string[] {
  return platform === "win32"
    ? [".venv\\Scripts\\infill.exe", "venv\\Scripts\\infill.exe"]
    : [".venv/bin/infill", "venv/bin/infill"];
}

function join(folder: string, relative: string, platform: string): string {
  const sep = platform === "win32" ? "\\" : "/";
  return folder.endsWith(sep) ? folder + relative : folder + sep + relative;
}

/**
 * The command that starts the server. `serverPath` "infill" (the default) means: the `infill`
 * script of a `.venv` or `venv` in a workspace folder if there is one, else `infill` on PATH.
 * Any other value is used as given, with `${workspaceFolder}` replaced by the first folder.
 */
export function resolveServerCommand(serverPath: unknown, serverArgs: unknown, context: CommandContext): ServerCommand {
  const args =
    Array.isArray(serverArgs) && serverArgs.every((a) => typeof a === "string") ? (serverArgs as string[]) : ["serve"];
  const path = text(serverPath) || "infill";
  if (path !== "infill") {
    const folder = context.folders[0] ?? "";
    return { command: path.split("${workspaceFolder}").join(folder), args };
  }
  for (const folder of context.folders) {
    for (const relative of venvCandidates(context.platform)) {
      const candidate = join(folder, relative, context.platform);
      if (context.exists(candidate)) {
        return { command: candidate, args };
      }
    }
  }
  return { command: "infill", args };
}

/** Which documents the client syncs: the configured VS Code language ids, else every file. */
export function documentSelector(languages: string[]): { scheme: string; language?: string }[] {
  const schemes = ["file", "untitled"];
  if (languages.length === 0) {
    return schemes.map((scheme) => ({ scheme }));
  }
  return languages.flatMap((language) => schemes.map((scheme) => ({ scheme, language })));
}

/** Whether a configuration change needs a new server process rather than a settings notification. */
export function needsRestart(affects: (key: string) => boolean): boolean {
  return ["infill.serverPath", "infill.serverArgs", "infill.languages"].some(affects);
}
