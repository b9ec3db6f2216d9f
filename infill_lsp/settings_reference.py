"""The settings reference, generated from the typed settings, so the editors' copies cannot drift from it.

``infill_lsp.config`` (``Settings``, ``EngineSettings``) is the one source of the keys and defaults; this
module adds what each setting means, and writes ``docs/SETTINGS.md`` (with the list of languages, from
``grammars/languages.toml`` and ``grammars/batch_recipes.toml``), the setting list of the Neovim help
(``editors/neovim/doc/infill.txt``) and the settings schema of the VS Code extension
(``editors/vscode/package.json``). ``python -m infill_lsp.settings_reference`` rewrites the three;
``tests/test_settings_reference.py`` fails when one of them is out of date.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.host.launch import BACKENDS, DTYPES
from engine.prompt.fim import TEXT_TAG
from grammars import default_table
from infill_lsp.batch.holes import load_recipes
from infill_lsp.config import ENGINE_MODES, PICK_RULES, EngineSettings, Settings
from infill_lsp.tempo import POLICIES

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_MD = ROOT / "docs" / "SETTINGS.md"
NEOVIM_DOC = ROOT / "editors" / "neovim" / "doc" / "infill.txt"
VSCODE_PACKAGE = ROOT / "editors" / "vscode" / "package.json"
NEOVIM_BEGIN = "                Server settings (generated from infill_lsp/config.py):"
NEOVIM_END = "                Example: >lua"
VSCODE_ONLY = ("infill.serverPath", "infill.serverArgs")
# Where the remote engine is and how to authenticate: user settings only (VS Code scope "machine"), so a
# folder's .vscode/settings.json cannot send its code, and the user's API key, to another server (nor empty
# the exclusion list that keeps secrets out of the context sent there).
# Settings the VS Code extension sets itself rather than offering them: it shows same-line next edits as ghost
# text of its own, so it always sends nextEditInlineCompletion false.
EXTENSION_SET = ("nextEditInlineCompletion",)
USER_ONLY = ("engine.url", "engine.apiKeyEnv", "engine.apiKeyFile", "engine.caFile", "indexExclude")

MEANINGS: dict[str, str] = {
    "engine.mode": "`spawn`: start (or join) the shared per-user engine process on a Unix socket; `connect`: use "
    "the engine listening on `engine.socket` (the server never starts or restarts it); `inproc`: load the model "
    "in the language-server process.",
    "engine.socket": "The engine's Unix socket. Empty: `$XDG_RUNTIME_DIR/infill/engine.sock`, else "
    "`/tmp/infill-$UID/engine.sock`. Required with `connect`.",
    "engine.url": "A remote engine (`infill engine --http HOST:PORT --api-key-file FILE` on a GPU machine): "
    "`https://host:port` (or `http://`, `ws://`, `wss://`). Set, it replaces `engine.mode`: nothing is started "
    "here, Restart Engine reconnects, and the model, device, backend and dtype are the remote engine's.",
    "engine.apiKeyEnv": "The environment variable of the language-server process holding the remote engine's "
    "API key (settings never hold the key itself).",
    "engine.apiKeyFile": "A file holding the remote engine's API key (its first line; keep it `chmod 600`); "
    "set, it is used instead of `engine.apiKeyEnv`.",
    "engine.caFile": "CA certificates (PEM) to trust beside the system's for an `https://` engine, such as a "
    "self-signed one.",
    "engine.modelDir": "A model directory (`config.json`, safetensors weights, `tokenizer.json`, optional card "
    "`infill_model.json`). Empty: the embedded model when this server starts the engine; an engine already "
    "running keeps the model it serves.",
    "engine.device": "`auto` (CUDA when torch sees a GPU, else the CPU), `cpu`, `mps`, `cuda` or `cuda:N`.",
    "engine.backend": "`auto` (torch), `torch`, or `onnx` (ONNX Runtime; needs "
    "`pip install 'infill-diffusion[onnx]'`).",
    "engine.dtype": "The weights' dtype: `auto` (bf16 where the device multiplies it natively, else fp32), "
    "`float32`, `bfloat16` or `float16`; `onnx` runs `float32`.",
    "engine.restartBackoffMs": "Wait before starting again an engine that failed; it doubles with each failure "
    "in a row, up to 60 s.",
    "engine.startTimeoutMs": "Longest wait for the engine to start and load its model.",
    "engine.idleExitSeconds": "An engine this server spawns exits this long after its last client has gone "
    "(0: it keeps running).",
    "engine.promptFormat": "The prompt format (`engine/prompt/formats.toml`): `fim` (the embedded model's), `chat` "
    "(instruction-tuned checkpoints such as DiffusionGemma-it), `native` (the chat prompt with the suffix's "
    "start fixed at the end of each canvas), or `auto` (chosen by the model's tokenizer).",
    "engine.promptTemplate": "A file holding a prompt template that replaces the format's: `{prefix}`, "
    "`{suffix}`, `{context}`, `{language}`, and the tokenizer's special tokens written literally.",
    "engine.shortCanvases": "Let a model trained on one canvas length (DiffusionGemma-it: 256) denoise the "
    "shorter lengths holes ask for (faster, outside its training).",
    "engine.coreFactory": "Development only (honoured with `INFILL_ALLOW_CODE_SETTINGS=1`): "
    "`module:function` building the engine core instead of loading a model.",
    "engine.factory": "Development only (honoured with `INFILL_ALLOW_CODE_SETTINGS=1`), with `engine.mode` "
    "`factory`: `module:function` returning the engine client.",
    "debouncePolicy": "How long the server waits after a keystroke before asking the engine: `none` (at once; "
    "the next keystroke cancels the request), `fixed` (`debounceMs`), `adaptive` (a share of your typing "
    "interval, learned from your edits only), `auto` (the measured default per engine kind). Invoked "
    "requests never wait.",
    "debounceMs": "`fixed`: the wait after a keystroke; `adaptive`: the wait until your typing tempo is known; "
    "0 never waits.",
    "debounceMinMs": "The adaptive debounce stays at or above this.",
    "debounceMaxMs": "The adaptive debounce stays at or below this.",
    "maxLines": "Longest suggestion, in lines.",
    "maxSteps": "Denoising steps of an as-you-type suggestion (0: the engine's default). Fewer is faster, "
    "more is better.",
    "numCandidates": "Candidates of an as-you-type request.",
    "invokedSteps": "Denoising steps of an explicitly asked-for suggestion and of the edit commands.",
    "invokedCandidates": "Candidates of an explicitly asked-for suggestion, to cycle through.",
    "requestTimeoutMs": "Longest wait for one suggestion.",
    "commandTimeoutMs": "Longest wait for an edit command (fill selection, complete body, write docstring).",
    "prefixChars": "Most characters of context before the cursor (the engine's token budget may cut more).",
    "suffixChars": "Most characters of context after the cursor.",
    "crossFileChars": "Characters of `prefixChars` given to repository context: snippets of other files, each "
    "under a `file:` comment naming its workspace path (shrunk with the engine's token budget).",
    "contextDefinitions": "Repository context: the definitions of the names near the cursor and in the enclosing "
    "function's signature (through the file's imports first, then the workspace index by name), then of the "
    "names the file imports and uses further away (`core.parse_json` too), what the file imports from open "
    "documents, and the outline (each definition's first line) of the modules it imports from other files; a long "
    "definition as its outline.",
    "contextDefinitionsMs": "Longest time the definitions source may take per request.",
    "contextSimilar": "Repository context: the 60-line windows of open files of the same language most like the "
    "code before the cursor.",
    "contextSimilarMs": "Longest time the similar-windows source may take per request.",
    "contextRecent": "Repository context: the lines around the latest edits in other open documents.",
    "contextRecentMs": "Longest time the recent-edits source may take per request.",
    "indexWorkspace": "Index the workspace folders in the background (definitions of every file of a known "
    "language, git-ignored files skipped) so context can come from files that are not open.",
    "indexMaxFiles": "Most files the workspace index reads.",
    "indexMaxFileBytes": "Files larger than this are not indexed.",
    "indexMaxBytes": "Most bytes the workspace index reads in all.",
    "indexExclude": "Files never read into the index or context (glob patterns over file names or "
    "workspace-relative paths): secrets, since context may travel to a remote engine.",
    "indexCache": "Keep the workspace index on disk between runs (`$XDG_CACHE_HOME/infill/index`, readable by "
    "you only), so a restarted server has it at once and reads only the files changed since.",
    "languages": "Languages to complete: the server's names (the `name` column of the language list in "
    "`docs/SETTINGS.md`, and `text` for files of any other language); in VS Code, its language ids. Empty: "
    "every language.",
    "completionFallback": "Also offer fills as `textDocument/completion` items to clients that show inline "
    "completions.",
    "speculative": "After a suggestion is shown, prefetch the one for the text after accepting it.",
    "warm": "Encode the prompt of the place the cursor rests at before a fill is asked there, so the first fill "
    "after a jump costs about what a fill after a keystroke costs (the editor reports cursor moves with the "
    "`infill/didMoveCursor` notification; other editors: the place of the last change). Warm-ups run below "
    "real requests; turn off to save the engine's time on a shared machine.",
    "warmDelayMs": "How long a reported cursor rests at a new place before its prompt is warmed (ms); the editors "
    "report a move once the cursor stood still 100 ms, so a place is warmed about 130 ms after the cursor stops. "
    "Raise it on a shared engine to warm fewer places the cursor only passes through.",
    "pick": "How several candidates are ordered: `likelihood` (the encoder's causal likelihood of each fill) "
    "or `confidence` (the denoiser's mean top probability).",
    "minConfidence": "The gate: show a fill only when the denoiser's confidence reaches this (0 to 1; 0 shows "
    "every fill that passes the checks).",
    "nextEdit": "Suggest the follow-up edit near the cursor after a change (`textDocument/copilotInlineEdit`, "
    "as Copilot's next edit suggestions): a rename repeated at the next use, an argument added at the next "
    "call, or a line the model rewrites confidently.",
    "nextEditDebounceMs": "How long after the last change the editors ask for a next edit (ms).",
    "nextEditLinesBefore": "The region a next edit may touch: lines before the cursor's line.",
    "nextEditLinesAfter": "The region a next edit may touch: lines after the cursor's line.",
    "nextEditGate": "The least confidence (0 to 1) of the model's answer for a next edit to be shown; higher is "
    "quieter.",
    "nextEditInlineCompletion": "Where no fill is offered at the cursor (mid-line, say), answer "
    "`textDocument/inlineCompletion` with a next edit on the cursor's line that extends what is typed there, as an "
    "item with a replacing `range` and the accept command, so editors that speak only the standard request show "
    "it as ghost text. The VS Code extension and the Neovim plugin show next edits themselves and turn this off.",
    "eventLog": "Keep accept/dismiss events (sizes, never text) in `$XDG_STATE_HOME/infill/events.jsonl` "
    "(default `~/.local/state/infill`); never sent anywhere.",
}


@dataclass(frozen=True, slots=True)
class Setting:
    key: str  # as editors write it: camelCase, "engine." before the engine's
    default: Any  # as JSON
    kind: str  # string, integer, boolean or array
    meaning: str
    choices: tuple[str, ...] = ()
    development: bool = False
    bounds: tuple[int, int] | None = None  # an integer's valid range, at the other settings' defaults


def camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


def _default(field: dataclasses.Field) -> Any:
    value = field.default if field.default is not dataclasses.MISSING else field.default_factory()  # type: ignore[misc]
    return list(value) if isinstance(value, tuple) else value


def _bounds(cls: type, name: str) -> tuple[int, int] | None:
    """The range the settings class accepts for the integer ``name``, read from its own refusal."""
    try:
        cls(**{name: -(10**12)})
    except ValueError as exc:
        found = re.search(r"must lie in \[(-?\d+), (-?\d+)\]", str(exc))
        if found:
            return int(found[1]), int(found[2])
    return None


def _kind(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array"}[type(value)]


CHOICES = {
    "engine.mode": tuple(m for m in ENGINE_MODES if m != "factory"),
    "debouncePolicy": ("auto", *POLICIES),
    "pick": PICK_RULES,
    "engine.backend": BACKENDS,
    "engine.dtype": DTYPES,
}


def settings() -> list[Setting]:
    """Every server setting, the engine's first, in the order the dataclasses declare them."""
    out: list[Setting] = []
    for prefix, cls in (("engine.", EngineSettings), ("", Settings)):
        for field in dataclasses.fields(cls):
            if field.name == "engine":
                continue
            key = prefix + camel(field.name)
            default = _default(field)
            meaning = MEANINGS.get(key)
            if meaning is None:
                raise KeyError(f"setting {key!r} has no meaning in infill_lsp/settings_reference.py MEANINGS")
            bounds = _bounds(cls, field.name) if _kind(default) == "integer" else None
            out.append(Setting(key, default, _kind(default), meaning, CHOICES.get(key, ()),
                               meaning.startswith("Development only"), bounds))  # fmt: skip
    return out


def _json(value: Any) -> str:
    return json.dumps(value)


def _lua(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, list):
        return "{}" if not value else "{ " + ", ".join(_lua(v) for v in value) + " }"
    return str(value)


# ---- docs/SETTINGS.md ---------------------------------------------------------------------------------


def render_markdown() -> str:
    rows = [s for s in settings() if not s.development]
    development = [s for s in settings() if s.development]

    def table(items: list[Setting]) -> list[str]:
        lines = ["| key | default | meaning |", "| --- | --- | --- |"]
        lines += [f"| `{s.key}` | `{_json(s.default)}` | {s.meaning} |" for s in items]
        return lines

    return "\n".join([
        "# Settings",
        "",
        "<!-- Generated from infill_lsp/config.py by `python -m infill_lsp.settings_reference`; do not edit. -->",
        "",
        "The language server's settings, with their defaults. Every editor passes the same ones, as",
        "`initializationOptions` and with `workspace/didChangeConfiguration`. Keys may be camelCase or snake_case,",
        "flat or under an `infill` section; `engine.*` keys go in an `engine` object. A bad value is reported in",
        "the editor and replaced by its default.",
        "",
        "- **VS Code**: `\"infill.<key>\"` in `settings.json` (e.g. `\"infill.engine.device\": \"cuda\"`); the",
        "  extension passes on only the settings you set. Its own: `infill.serverPath`, `infill.serverArgs`.",
        "- **Neovim**: `require('infill').setup{ settings = { engine = { device = 'cuda' }, maxLines = 8 } }`",
        "  (`:help infill-setup`; the plugin's own options, such as its ghost-text `debounce_ms`, are there).",
        "- **Any other client**: the same object as `initializationOptions` (`editors/README.md`).",
        "",
        "Editors share one engine per user. When `engine.modelDir`, `engine.device`, `engine.backend` or",
        "`engine.dtype` ask for something else than the running engine serves, it is restarted with them when no",
        "other client uses it, and otherwise keeps its settings and the editor says so. Left open (an empty",
        "`engine.modelDir`, `auto`), they accept what the running engine serves.",
        "",
        *table(rows),
        "",
        *render_languages(),
        "",
        "## Development settings",
        "",
        *table(development),
        "",
    ])


QUERY_COLUMNS = (("functions", "edit commands"), ("imports", "imports"), ("definitions", "cross-file definitions"))


def render_languages() -> list[str]:
    """The section listing every language of the table: names, how a file is recognised, what it supports."""
    recipes = load_recipes()
    lines = [
        "## Languages",
        "",
        "<!-- Generated from grammars/languages.toml and grammars/batch_recipes.toml. -->",
        "",
        "The languages the server parses (`grammars/languages.toml`). A document is recognised by the language",
        "id its editor sends, else by its file extension; `name` is what the `languages` setting takes. Each has",
        "syntax-aware context and holes, and its fills' parse is checked. The optional queries add the edit",
        "commands (fill selection, complete body, write docstring), the names a document imports, and top-level",
        "definitions offered to other documents as cross-file context; `infill batch --recipe NAME` fills the",
        "recipes listed. The model tag is how the embedded model reads the language: `text` means it was not",
        "trained on it (the model reads the file as plain text; the parse checks still hold).",
        "",
        "| language | name | editor language ids | extensions | " + " | ".join(t for _, t in QUERY_COLUMNS)
        + " | batch recipes | model tag |",
        "| --- " * (6 + len(QUERY_COLUMNS)) + "|",
    ]

    def code(values: tuple[str, ...] | list[str]) -> str:
        return ", ".join(f"`{v}`" for v in values) or "-"

    for entry in default_table().values():
        queries = ["yes" if entry.has_query(kind) else "-" for kind, _ in QUERY_COLUMNS]
        batch = [name for name, recipe in recipes.items() if (entry.query_dir / recipe.query).is_file()]
        lines.append(f"| {entry.title} | `{entry.name}` | {code(entry.language_ids)} | {code(entry.extensions)} | "
                     + " | ".join(queries) + f" | {code(batch)} | `{entry.model_tag}` |")
    lines += [
        "",
        f"Any other file is completed as plain text (`{TEXT_TAG}`): its context is cut at line boundaries, and a",
        "fill goes through the checks that need no grammar (brackets it leaves unbalanced, control characters, a",
        "word glued onto the one before the cursor) instead of a parse.",
    ]
    return lines


# ---- the Neovim help ----------------------------------------------------------------------------------


def render_neovim() -> list[str]:
    """The lines of the setting list in the Neovim help (inside the `settings` option, 16 columns in)."""
    lines = [NEOVIM_BEGIN]
    for s in settings():
        if s.development:
            continue
        head = f"                  `{s.key}` = {_lua(s.default)}"
        lines.append(head)
        text = re.sub(r"`([^`]*)`", r"\1", s.meaning)
        lines += textwrap.wrap(text, 78, initial_indent=" " * 20, subsequent_indent=" " * 20)
    return lines


def neovim_doc(current: str) -> str:
    """``current`` (the help file) with its setting list replaced by the generated one."""
    lines = current.split("\n")
    start, end = lines.index(NEOVIM_BEGIN), lines.index(NEOVIM_END)
    return "\n".join([*lines[:start], *render_neovim(), *lines[end:]])


# ---- the VS Code schema -------------------------------------------------------------------------------


def vscode_properties(current: dict[str, Any]) -> dict[str, Any]:
    """The extension's ``contributes.configuration.properties``: its own settings, then one per server
    setting with the server's default and choices (what the file says beyond those is kept)."""
    properties = {key: current[key] for key in VSCODE_ONLY if key in current}
    for s in settings():
        if s.development or s.key in EXTENSION_SET:
            continue
        key = f"infill.{s.key}"
        entry = dict(current.get(key, {}))
        entry["type"] = s.kind
        if s.kind == "array":
            entry["items"] = {"type": "string"}
        entry["default"] = s.default
        if s.bounds is not None:
            entry["minimum"], entry["maximum"] = s.bounds
        if s.choices:
            entry["enum"] = list(s.choices)
        if s.key in USER_ONLY:
            entry["scope"] = "machine"
        if "markdownDescription" not in entry and "description" not in entry:
            entry["markdownDescription"] = s.meaning
        properties[key] = dict(sorted(entry.items(), key=lambda kv: _VSCODE_ORDER.get(kv[0], 99)))
    return properties


_VSCODE_ORDER = {"type": 0, "items": 1, "enum": 2, "default": 3, "enumDescriptions": 4, "minimum": 5,
                 "maximum": 6, "pattern": 7, "scope": 8, "markdownDescription": 9, "description": 9}  # fmt: skip


def vscode_package(current: str) -> str:
    package = json.loads(current)
    configuration = package["contributes"]["configuration"]
    configuration["properties"] = vscode_properties(configuration["properties"])
    return json.dumps(package, indent=2, ensure_ascii=False) + "\n"


# ---- writing ------------------------------------------------------------------------------------------


def generated() -> dict[Path, str]:
    """Each generated file and the text it should hold."""
    return {
        SETTINGS_MD: render_markdown(),
        NEOVIM_DOC: neovim_doc(NEOVIM_DOC.read_text(encoding="utf-8")),
        VSCODE_PACKAGE: vscode_package(VSCODE_PACKAGE.read_text(encoding="utf-8")),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say which files are out of date (exit 1)")
    args = parser.parse_args(argv)
    stale = [path for path, text in generated().items() if not path.exists() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"out of date: {path.relative_to(ROOT)}")
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(generated()[path], encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
