"""One settings reference: the server's typed settings, docs/SETTINGS.md, the VS Code schema and the Neovim
help list the same settings with the same defaults (regenerate with `python -m infill_lsp.settings_reference`)."""

from __future__ import annotations

import json

from infill_lsp.config import Settings, parse_settings
from infill_lsp.settings_reference import (
    EXTENSION_SET,
    NEOVIM_DOC,
    SETTINGS_MD,
    VSCODE_PACKAGE,
    _lua,
    main,
    settings,
)


def test_the_generated_files_are_up_to_date(capsys):
    assert main(["--check"]) == 0, capsys.readouterr().out + "run: python -m infill_lsp.settings_reference"


def test_every_setting_appears_in_all_three_with_the_servers_default():
    reference = SETTINGS_MD.read_text()
    neovim = NEOVIM_DOC.read_text()
    vscode = json.loads(VSCODE_PACKAGE.read_text())["contributes"]["configuration"]["properties"]
    user_settings = [s for s in settings() if not s.development]
    assert len(user_settings) >= 25
    for s in user_settings:
        assert f"| `{s.key}` | `{json.dumps(s.default)}` |" in reference, s.key
        assert f"`{s.key}` = {_lua(s.default)}\n" in neovim, s.key
        if s.key in EXTENSION_SET:  # the extension sets it itself
            assert f"infill.{s.key}" not in vscode, s.key
            continue
        entry = vscode[f"infill.{s.key}"]
        assert entry["default"] == s.default, s.key
        if s.choices:
            assert set(entry["enum"]) == set(s.choices), s.key
        if s.bounds:
            assert (entry["minimum"], entry["maximum"]) == s.bounds, s.key
    assert {"infill.engine.dtype", "infill.engine.backend", "infill.requestTimeoutMs"} <= set(vscode)


def test_the_documented_defaults_are_the_servers_defaults():
    """Every default as an editor would send it, read back by the server, changes nothing."""
    raw: dict = {"engine": {}}
    for s in settings():
        if s.development:
            continue
        if s.key.startswith("engine."):
            raw["engine"][s.key.removeprefix("engine.")] = s.default
        else:
            raw[s.key] = s.default
    parsed, warnings = parse_settings(raw)
    assert warnings == [] and parsed == Settings()


def test_a_new_setting_without_a_meaning_is_refused(monkeypatch):
    from infill_lsp import settings_reference

    monkeypatch.delitem(settings_reference.MEANINGS, "maxLines")
    try:
        settings()
    except KeyError as exc:
        assert "maxLines" in str(exc)
    else:
        raise AssertionError("a setting without a meaning went into the reference")


def test_the_language_list_has_every_language_of_the_table_and_what_it_supports():
    from grammars import default_table
    from infill_lsp.settings_reference import render_languages

    lines = render_languages()
    rows = {line.split(" | ")[1].strip("`"): line for line in lines if line.startswith("| ") and " | `" in line}
    table = default_table()
    assert set(rows) == set(table)
    assert rows["python"].startswith("| Python | `python` | `python` | `.py`, `.pyi` | yes | yes | yes |")
    assert "`todo_bodies`, `missing_docstrings`" in rows["python"] and rows["python"].endswith("| `python` |")
    assert rows["cpp"].startswith("| C++ | `cpp` |") and rows["cpp"].endswith("| `todo_bodies` | `text` |")
    assert rows["json"].endswith("| - | - | - | - | `text` |")  # no edit commands, no recipes
    assert rows["tsx"].endswith("| `typescript` |")
    assert any("Any other file is completed as plain text" in line for line in lines)
    assert "\n".join(lines) in SETTINGS_MD.read_text()
