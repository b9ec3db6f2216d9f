"""Settings from the editor: typed, validated per field, bad values reported and replaced."""

from __future__ import annotations

import pytest

from infill_lsp.config import EngineSettings, Settings, parse_settings


def test_defaults():
    settings, warnings = parse_settings(None)
    assert settings == Settings() and warnings == []
    assert settings.engine.mode == "spawn"
    assert settings.prefix_chars == 4000 and settings.suffix_chars == 1500


def test_snake_and_camel_case_and_an_infill_section_are_accepted():
    raw = {"infill": {"debounceMs": 10, "max_lines": 3, "engine": {"mode": "inproc", "modelDir": "/m"}}}
    settings, warnings = parse_settings(raw)
    assert warnings == []
    assert settings.debounce_ms == 10 and settings.max_lines == 3
    assert settings.engine == EngineSettings(mode="inproc", model_dir="/m")


def test_fields_that_are_only_valid_together_are_accepted_together():
    settings, warnings = parse_settings({"engine": {"mode": "connect", "socket": "/tmp/s"}})
    assert warnings == [] and settings.engine.mode == "connect"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"debounce_ms": "fast"}, "debounce_ms"),
        ({"debounce_ms": True}, "debounce_ms"),
        ({"max_lines": 0}, "max_lines"),
        ({"request_timeout_ms": -5}, "request_timeout_ms"),
        ({"languages": "python"}, "languages"),
        ({"engine": {"mode": "telepathy"}}, "engine.mode"),
        ({"engine": {"mode": "connect"}}, "engine.socket"),
        ({"engine": {"device": "tpu"}}, "engine.device"),
        ({"engine": {"backend": "tensorrt"}}, "engine.backend"),
        ({"engine": {"dtype": "int4"}}, "engine.dtype"),
        ({"engine": {"factory": "not a spec"}}, "engine.factory"),
        ({"engine": 3}, "engine"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_values_warn_naming_the_field_and_keep_the_default(raw, field):
    settings, warnings = parse_settings(raw)
    assert len(warnings) == 1 and field in warnings[0], warnings
    assert settings == Settings()


def test_one_bad_value_does_not_discard_the_good_ones():
    settings, warnings = parse_settings(
        {"max_lines": -1, "debounce_ms": 5, "engine": {"device": "x", "backend": "onnx"}}
    )
    assert settings.debounce_ms == 5 and settings.engine.backend == "onnx"
    assert settings.max_lines == Settings().max_lines and settings.engine.device == "auto"
    assert len(warnings) == 2


def test_integral_floats_are_integers():
    assert parse_settings({"max_steps": 8.0})[0].max_steps == 8


def test_later_settings_apply_on_top_of_a_base():
    base, _ = parse_settings({"max_lines": 4})
    settings, _ = parse_settings({"debounce_ms": 1}, base)
    assert settings.max_lines == 4 and settings.debounce_ms == 1


def test_settings_that_are_not_an_object_are_reported():
    settings, warnings = parse_settings(["nope"])
    assert settings == Settings() and "must be an object" in warnings[0]


def test_languages_enabled():
    assert Settings().language_enabled("go")
    only = Settings(languages=("python",))
    assert only.language_enabled("python") and not only.language_enabled("go")
    assert not only.language_enabled(None)


def test_direct_construction_validates_with_the_field_name():
    with pytest.raises(ValueError, match="max_lines"):
        Settings(max_lines=0)
    with pytest.raises(ValueError, match="engine.factory is required"):
        EngineSettings(mode="factory")


def test_a_copilot_clients_own_options_are_taken_quietly_and_its_next_edit_switch_is_read():
    raw = {"editorInfo": {"name": "neovim", "version": "0.11.4"}, "editorPluginInfo": {"name": "copilot-lsp"},
           "nextEditSuggestions": {"enabled": False}}
    settings, warnings = parse_settings(raw)
    assert warnings == [] and settings.next_edit is False
    settings, _ = parse_settings({"nextEditSuggestions": {"enabled": False}, "nextEdit": True})
    assert settings.next_edit is True  # our own setting wins
    settings, warnings = parse_settings({"nextEditGate": 2})
    assert settings.next_edit_gate == 0.9 and "next_edit_gate" in warnings[0]
