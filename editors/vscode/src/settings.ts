/** Maps the extension's `infill.*` settings to the server's initializationOptions and launch command. */

/**
 * Reads one setting below the `infill` section, e.g. `get("engine.mode")`: the value the user set,
 * or undefined where they set none (so that the server's own defaults apply).
 */
export type SettingGetter = (key: string) => unknown;

export interface EngineOptions {
  mode?: string;
  socket?: string;
  modelDir?: string;
  device?: string;
}

/**
 * The object the server reads from initializationOptions and workspace/didChangeConfiguration:
 * only the settings the user set (and that are valid), under the server's names.
 */
export interface ServerSettings {
  engine?: EngineOptions;
  debouncePolicy?: string;
  debounceMs?: number;
  maxLines?: number;
  maxSteps?: number;
  numCandidates?: number;
  languages?: string[];
}

const ENGINE_MODES = ["spawn", "connect", "inproc"];
const DEBOUNCE_POLICIES = ["auto", "none", "fixed", "adaptive"];
const DEVICE = /^(auto|cpu|mps|cuda(:\d+)?)$/;
/** Integer settings and their valid ranges (the server's, see infill_lsp/config.py). */
const INTEGERS: [keyof ServerSettings, number, number][] = [
  ["debounceMs", 0, 5000],
  ["maxLines", 1, 1000],
  ["maxSteps", 0, 10_000],
  ["numCandidates", 1, 8],
];

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
 * names. Mistyped or out-of-range values are left out (package.json's schema flags them already), so
 * the server keeps its default for them.
 */
export function toServerSettings(get: SettingGetter): ServerSettings {
  const out: ServerSettings = {};
  const engine: EngineOptions = {};
  const mode = text(get("engine.mode"));
  if (mode && ENGINE_MODES.includes(mode)) engine.mode = mode;
  const device = text(get("engine.device"));
  if (device && DEVICE.test(device)) engine.device = device;
  const socket = text(get("engine.socket"));
  if (socket) engine.socket = socket;
  const modelDir = text(get("engine.modelDir"));
  if (modelDir) engine.modelDir = modelDir;
  if (Object.keys(engine).length) out.engine = engine;
  const policy = text(get("debouncePolicy"));
  if (policy && DEBOUNCE_POLICIES.includes(policy)) out.debouncePolicy = policy;
  for (const [key, low, high] of INTEGERS) {
    const value = get(key);
    if (typeof value === "number" && Number.isInteger(value) && value >= low && value <= high) {
      (out as Record<string, unknown>)[key] = value;
    }
  }
  const languages = get("languages");
  if (Array.isArray(languages)) out.languages = serverLanguages(languageIds(languages));
  return out;
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
